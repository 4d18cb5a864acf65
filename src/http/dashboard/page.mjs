// The page's fixed parts and what its views share: who is signed in, and the one timer that keeps the current view
// up to date. Starting a view's polling stops the previous view's, so at most one view ever polls.
import { isUnauthorized } from './api.mjs';
import { tickAges } from './widgets.mjs';

const POLL_MS = 2000;

export const main = document.getElementById('main');
const status = document.getElementById('status');

/** The caller as /me answered (name, scopes, authRequired); null while signed out. */
export const session = { caller: null };

let timer = null;
let onKeyRejected = () => {};

/** Tells screen-reader users, through the page's live region, that something finished. */
export function announce(text) {
  status.textContent = text;
}

export const can = (scope) => Boolean(session.caller?.scopes.includes(scope));

/** What to do when a poll's call answers 401: the sign-in page lives in app.mjs, which imports the views. */
export function whenKeyRejected(handler) {
  onKeyRejected = handler;
}

export function stopPolling() {
  clearInterval(timer);
  timer = null;
}

/**
 * Runs `work` every POLL_MS while the tab is visible, one call at a time, and ticks the ages on every beat. Errors
 * other than a rejected key are left for the next beat: the page keeps what it last showed.
 */
export function poll(work) {
  stopPolling();
  let busy = false;
  timer = setInterval(async () => {
    tickAges();
    if (busy || document.hidden) return;
    busy = true;
    try {
      await work();
    } catch (error) {
      if (isUnauthorized(error)) return onKeyRejected();
    } finally {
      busy = false;
    }
  }, POLL_MS);
}
