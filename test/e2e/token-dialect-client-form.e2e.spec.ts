import { describe } from 'vitest';
import { DIALECTS, itSpeaksDialect } from '../support/token-dialects';

describe('upstream token dialect e2e', () => {
  itSpeaksDialect(DIALECTS.clientFormV1);
});
