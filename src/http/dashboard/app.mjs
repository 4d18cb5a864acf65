// Tidemark dashboard: plain DOM, no dependencies, ES modules loaded from /assets/. Runs under `script-src 'self'`
// (no inline code, no eval); dom.mjs builds every element, so no server text is ever parsed as HTML.
//
// This module is the entry point: sign-in, the caller's identity, and the hash routes to the two pages.
import { api, forgetApiKey, hasApiKey, isUnauthorized, problemText, saveApiKey } from './api.mjs';
import { h } from './dom.mjs';
import { showIntegrationDetail } from './integration-detail.mjs';
import { showIntegrationList } from './integration-list.mjs';
import { main, session, stopPolling, whenKeyRejected } from './page.mjs';

const who = document.getElementById('who');
const signOut = document.getElementById('sign-out');

/** The route of one integration's page, as integration-list.mjs links it. */
const INTEGRATION_ROUTE = /^#\/integrations\/(\d+)\/(.+)$/;

function signInForm(message, input) {
  return h(
    'form',
    { class: 'card', 'aria-labelledby': 'signin-title' },
    h('h1', { id: 'signin-title' }, 'Sign in'),
    h('p', {}, 'Paste an API key (npm run apikey makes one). It is kept in this tab only, until you close it.'),
    message ? h('p', { class: 'alert', role: 'alert' }, message) : null,
    h('label', { for: 'api-key' }, 'API key', input),
    h('p', {}, h('button', { type: 'submit' }, 'Sign in')),
  );
}

/** Forgets the key and whoever it was, and asks for a key; `message` says why, when there is a reason. */
function showSignIn(message) {
  stopPolling();
  forgetApiKey();
  session.caller = null;
  who.textContent = '';
  signOut.hidden = true;
  const input = h('input', { id: 'api-key', name: 'apiKey', type: 'password', required: true, autocomplete: 'off' });
  const form = signInForm(message, input);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    saveApiKey(input.value.trim());
    await start();
  });
  main.replaceChildren(form);
  input.focus();
}

const keyRejected = () => showSignIn('The API key is no longer accepted.');

/** Asks /me who the stored key (if any) belongs to; signed in, or with no sign-in needed, shows the routed page. */
async function start() {
  try {
    session.caller = (await api('/me')).json;
  } catch (error) {
    if (isUnauthorized(error)) return showSignIn(hasApiKey() ? 'That API key is not recognised.' : null);
    main.replaceChildren(h('p', { class: 'alert', role: 'alert' }, `The API did not answer: ${error.message}`));
    return;
  }
  const { name, scopes, authRequired } = session.caller;
  who.textContent = authRequired ? `Signed in as ${name} (${scopes.join(', ')})` : 'No sign-in needed';
  signOut.hidden = !authRequired;
  route();
}

function route() {
  stopPolling();
  if (!session.caller) return;
  const match = INTEGRATION_ROUTE.exec(location.hash);
  const work = match ? showIntegrationDetail(Number(match[1]), decodeURIComponent(match[2])) : showIntegrationList();
  work.catch((error) => {
    if (isUnauthorized(error)) return keyRejected();
    main.replaceChildren(h('p', { class: 'alert', role: 'alert' }, problemText(error)));
  });
  main.focus();
}

whenKeyRejected(keyRejected);
signOut.addEventListener('click', () => showSignIn('Signed out.'));
window.addEventListener('hashchange', route);
void start();
