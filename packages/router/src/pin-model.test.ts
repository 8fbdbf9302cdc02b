import { describe, expect, it } from 'vitest';
import { scanTopLevelObject } from './json-members.js';
import { pinModel } from './pin-model.js';

const pin = (s: string, model = 'claude-sonnet-4-6') => pinModel(Buffer.from(s, 'utf8'), model).toString('utf8');

describe('pinModel', () => {
  it.each([
    ['compact', '{"model":"claude-opus-4","max_tokens":5}', '{"model":"claude-sonnet-4-6","max_tokens":5}'],
    ['spaced, model last', '{ "max_tokens" : 5 ,\n  "model" :  "x"  }', '{ "max_tokens" : 5 ,\n  "model" :  "claude-sonnet-4-6"  }'],
    ['non-string model value', '{"model":null,"a":1}', '{"model":"claude-sonnet-4-6","a":1}'],
    ['nested model untouched', '{"metadata":{"model":"keep"},"model":"x"}', '{"metadata":{"model":"keep"},"model":"claude-sonnet-4-6"}'],
    ['model inside strings untouched', '{"s":"\\"model\\":\\"keep\\"","model":"x"}', '{"s":"\\"model\\":\\"keep\\"","model":"claude-sonnet-4-6"}'],
    ['escaped key', '{"mod\\u0065l":"x"}', '{"mod\\u0065l":"claude-sonnet-4-6"}'],
    ['duplicate keys both pinned', '{"model":"a","x":[1,{"b":"]"}],"model":"b"}', '{"model":"claude-sonnet-4-6","x":[1,{"b":"]"}],"model":"claude-sonnet-4-6"}'],
    ['backslashes before a quote', '{"s":"a\\\\","model":"x"}', '{"s":"a\\\\","model":"claude-sonnet-4-6"}'],
    ['unicode around', '{"s":"héllo ✓","model":"x","t":"😀"}', '{"s":"héllo ✓","model":"claude-sonnet-4-6","t":"😀"}'],
  ])('%s', (_name, input, want) => {
    expect(pin(input)).toBe(want);
  });

  it.each([
    ['not JSON', 'model=x'],
    ['array', '[{"model":"x"}]'],
    ['no model', '{"messages":[]}'],
    ['truncated', '{"model":"x","a":'],
    ['trailing garbage', '{"model":"x"} {"model":"y"}'],
    ['unterminated string', '{"model":"x'],
    ['mismatched brackets', '{"a":[1,2},"model":"x"}'],
    ['empty', ''],
  ])('leaves %s untouched (same buffer)', (_name, input) => {
    const buf = Buffer.from(input);
    expect(pinModel(buf, 'm')).toBe(buf);
  });

  it('returns the same buffer when the model already equals the pin', () => {
    const buf = Buffer.from('{"model":"claude-sonnet-4-6"}');
    expect(pinModel(buf, 'claude-sonnet-4-6')).toBe(buf);
  });

  it('encodes the pinned model as a JSON string', () => {
    expect(JSON.parse(pin('{"model":"x"}', 'we"ird\\model')).model).toBe('we"ird\\model');
  });

  it('agrees with JSON.parse on which model the upstream will read', () => {
    for (const body of ['{"model":"a","model":"b"}', '{"mo\\u0064el":"a"}', '{"a":{"model":"n"},"model":"a"}']) {
      const parsed = JSON.parse(pin(body, 'pinned')) as { model: string };
      expect(parsed.model).toBe('pinned');
    }
  });
});

describe('scanTopLevelObject', () => {
  it('reports member ranges and decoded keys', () => {
    const buf = Buffer.from(' {"a" : 1, "b":{"c":[true,false,null]} ,"d":-1.5e3} ');
    const obj = scanTopLevelObject(buf);
    expect(obj?.members.map((m) => [m.key, buf.toString('utf8', m.valueStart, m.valueEnd)])).toEqual([
      ['a', '1'],
      ['b', '{"c":[true,false,null]}'],
      ['d', '-1.5e3'],
    ]);
  });

  it('accepts an empty object', () => {
    expect(scanTopLevelObject(Buffer.from('{ }'))?.members).toEqual([]);
  });
});
