import { describe, expect, it } from 'vitest';
import { parseNodes } from './bootstrap.ts';
import { UsageError } from './common.ts';

describe('keelson bootstrap --node', () => {
  it('maps each server name to its engine and the address it advertises', () => {
    expect(
      parseNodes([
        'node1=unix:///tmp/ks3-bst/n1/docker.sock,advertise=10.86.0.11',
        'swarm-2=ssh://root@203.0.113.7:2222',
      ]),
    ).toEqual(
      new Map([
        ['node1', { dockerHost: 'unix:///tmp/ks3-bst/n1/docker.sock', advertiseAddr: '10.86.0.11' }],
        // Without advertise=, the server's private network address is advertised.
        ['swarm-2', { dockerHost: 'ssh://root@203.0.113.7:2222' }],
      ]),
    );
  });

  const bad: { flag: string[]; why: string; says: RegExp }[] = [
    { flag: ['node1'], why: 'no engine', says: /expected NAME=DOCKER_HOST/ },
    { flag: ['=unix:///x'], why: 'no name', says: /expected NAME=DOCKER_HOST/ },
    { flag: ['node1=/var/run/docker.sock'], why: 'a path, not a DOCKER_HOST', says: /expected NAME=DOCKER_HOST/ },
    { flag: ['node1=http://10.0.0.1'], why: 'a scheme docker does not speak', says: /unix:\/\/, tcp:\/\/ or ssh:\/\// },
    { flag: ['node1=unix:///x,adv=1.2.3.4'], why: 'a misspelt option', says: /unknown option "adv=1\.2\.3\.4"/ },
    { flag: ['a=unix:///x', 'a=unix:///y'], why: 'the same node twice', says: /given twice/ },
  ];
  for (const b of bad)
    it(`refuses ${b.why}, saying what it expects`, () => {
      expect(() => parseNodes(b.flag)).toThrow(UsageError);
      expect(() => parseNodes(b.flag)).toThrow(b.says);
    });
});
