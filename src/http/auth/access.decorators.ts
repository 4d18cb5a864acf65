import { SetMetadata } from '@nestjs/common';

export type Scope = 'read' | 'operate';

export const REQUIRED_SCOPE = 'tidemark:required-scope';
export const PUBLIC_ROUTE = 'tidemark:public';
export const PUBLIC_WHEN = 'tidemark:public-when';

/** The scope a route needs; routes without it need `read`. */
export const RequireScope = (scope: Scope) => SetMetadata(REQUIRED_SCOPE, scope);

/** No key needed, ever (health probes). */
export const Public = () => SetMetadata(PUBLIC_ROUTE, true);

/** No key needed while the named switch is on: METRICS_PUBLIC for `metrics`, DOCS_PUBLIC for `docs`. */
export const PublicWhen = (what: 'metrics' | 'docs') => SetMetadata(PUBLIC_WHEN, what);
