import { describe } from 'vitest';
import { boundarySuite } from './testing-fixtures/boundary-suite.js';

describe('runSupervisor with --isolation none', () => {
  boundarySuite('none');
});
