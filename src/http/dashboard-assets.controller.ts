import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Controller, Get, Param, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { Public } from './auth/access.decorators';
import { ProblemException } from './problem';

/**
 * Where the dashboard's files are: beside this module, in `dashboard/` (src/http/dashboard when run from source,
 * dist/src/http/dashboard once `nest build` has copied them as assets).
 */
const ASSET_DIR = join(__dirname, 'dashboard');

const JAVASCRIPT = 'text/javascript; charset=utf-8';

/**
 * The only files served from ASSET_DIR, with their content types. app.mjs is the page's entry module and imports the
 * others by relative URL (`./dom.mjs`, so /assets/dom.mjs): a module missing here fails the page's whole module graph.
 */
const ASSETS: Record<string, string> = {
  'app.mjs': JAVASCRIPT,
  'api.mjs': JAVASCRIPT,
  'dom.mjs': JAVASCRIPT,
  'format.mjs': JAVASCRIPT,
  'integration-detail.mjs': JAVASCRIPT,
  'integration-list.mjs': JAVASCRIPT,
  'integration-sections.mjs': JAVASCRIPT,
  'page.mjs': JAVASCRIPT,
  'widgets.mjs': JAVASCRIPT,
  'app.css': 'text/css; charset=utf-8',
};

/**
 * The page's own policy, stricter than the Swagger UI's: scripts, styles and API calls from this origin only, no
 * inline script or style, nothing framed, no plugins. Replaces the JSON API's `default-src 'none'` for these routes.
 */
export const DASHBOARD_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/**
 * The dashboard: one HTML page, its script modules and its styles, read once, served without a key (its API calls
 * need one).
 */
@ApiExcludeController()
@Public()
@Controller()
export class DashboardAssetsController {
  private readonly files = new Map<string, Buffer>();

  @Get()
  page(@Res({ passthrough: true }) reply: FastifyReply): Buffer {
    return this.send(reply, 'index.html', 'text/html; charset=utf-8');
  }

  @Get('assets/:file')
  asset(@Param('file') file: string, @Res({ passthrough: true }) reply: FastifyReply): Buffer {
    const type = Object.hasOwn(ASSETS, file) ? ASSETS[file] : undefined;
    if (!type) throw ProblemException.notFound(`no dashboard asset ${JSON.stringify(file)}`);
    return this.send(reply, file, type);
  }

  private send(reply: FastifyReply, file: string, type: string): Buffer {
    let body = this.files.get(file);
    if (!body) {
      body = readFileSync(join(ASSET_DIR, file));
      this.files.set(file, body);
    }
    void reply
      .header('content-type', type)
      .header('content-security-policy', DASHBOARD_CSP)
      .header('cache-control', 'no-cache')
      .header('x-frame-options', 'DENY');
    return body;
  }
}
