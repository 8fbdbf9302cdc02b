import { errorCodesRaisedIn } from '@openshell/testing';
import { describe, expect, it } from 'vitest';
import { CORE_ERROR_CODES, CoreError, OpenShellError } from './index.js';

const SRC = import.meta.dirname;

describe('OpenShellError', () => {
  it('carries a stable code, details and cause', () => {
    const cause = new Error('root');
    const err = new CoreError('invalid_bundle', 'bad', { cause, details: { field: 'x' } });
    expect(err).toBeInstanceOf(Error);
    expect(err.code).toBe('invalid_bundle');
    expect(err.name).toBe('CoreError');
    expect(err.details).toEqual({ field: 'x' });
    expect(err.cause).toBe(cause);
  });

  it.each([
    ['a CoreError', new CoreError('invalid_profile', 'x'), true],
    ['another package\'s subclass', new OpenShellError('store_conflict', 'x'), true],
    ['an object from a duplicated copy (same Symbol.for marker)', Object.assign(new Error('x'), { [Symbol.for('openshell.error')]: true, code: 'x' }), true],
    ['a plain Error', new Error('x'), false],
    ['an object with a code only', { code: 'invalid_profile' }, false],
    ['null', null, false],
    ['a string', 'invalid_profile', false],
  ])('isInstance(%s) is %s', (_name, value, expected) => {
    expect(OpenShellError.isInstance(value)).toBe(expected);
  });
});

describe('CORE_ERROR_CODES', () => {
  it('documents every code raised in core sources, and only those', () => {
    const raised = errorCodesRaisedIn(SRC, 'CoreError');
    // invalid_credential_file is part of the contract for credential-file readers built on core (the CLI's
    // --from-claude-login); core itself parses no credential file.
    raised.add('invalid_credential_file');
    expect(Object.keys(CORE_ERROR_CODES).sort()).toEqual([...raised].sort());
  });

  it.each(Object.entries(CORE_ERROR_CODES))('%s has a description and a fix', (_code, doc) => {
    expect(doc.description.length).toBeGreaterThan(20);
    expect(doc.fix.length).toBeGreaterThan(20);
  });
});
