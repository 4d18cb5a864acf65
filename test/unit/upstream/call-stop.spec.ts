import { describe, expect, it } from 'vitest';
import { CallStop } from '../../../src/upstream/call-stop';

describe('CallStop', () => {
  it('aborts once, calling the listeners in order with the first reason', () => {
    const stop = new CallStop();
    const calls: string[] = [];
    stop.onAbort((reason) => calls.push(`a:${String(reason)}`));
    stop.onAbort((reason) => calls.push(`b:${String(reason)}`));
    stop.abort('deadline');
    stop.abort('caller');
    expect([stop.aborted, stop.reason, calls]).toStrictEqual([true, 'deadline', ['a:deadline', 'b:deadline']]);
  });

  it('does not call a removed listener, and never calls one added after the abort', () => {
    const stop = new CallStop();
    const calls: string[] = [];
    const remove = stop.onAbort(() => calls.push('removed'));
    stop.onAbort(() => calls.push('kept'));
    remove();
    remove();
    stop.abort('x');
    stop.onAbort(() => calls.push('late'))();
    expect(calls).toStrictEqual(['kept']);
  });

  it('gives an AbortSignal that follows it, made before or after the abort', () => {
    const before = new CallStop();
    const signal = before.signal;
    expect([signal.aborted, before.signal]).toStrictEqual([false, signal]);
    before.abort('deadline');
    expect([signal.aborted, signal.reason]).toStrictEqual([true, 'deadline']);

    const after = new CallStop();
    after.abort('caller');
    expect([after.signal.aborted, after.signal.reason]).toStrictEqual([true, 'caller']);
  });

  it('calls every listener even when one throws, then throws the first error', () => {
    const stop = new CallStop();
    const calls: string[] = [];
    stop.onAbort(() => {
      throw new Error('first');
    });
    stop.onAbort(() => calls.push('second'));
    stop.onAbort(() => {
      throw new Error('third');
    });
    const signal = stop.signal;
    expect(() => stop.abort('x')).toThrow('first');
    expect([calls, stop.aborted, signal.aborted]).toStrictEqual([['second'], true, true]);
  });
});
