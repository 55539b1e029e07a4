import * as fs from 'node:fs';

/**
 * The live processes of process group `pgid` whose command line contains `marker` (zombies left out), as
 * "pid command" strings. Read from /proc: a build tool's helper in the same group (esbuild's service, which
 * ends on its own once its parent has) is not what a test of orphaned workers is looking for.
 */
export function groupMembers(pgid: number, marker: string): string[] {
  if (!fs.existsSync('/proc/self/stat')) {
    // No /proc (not Linux): any live member of the group counts.
    try {
      process.kill(-pgid, 0);
      return [`a process of group ${pgid}`];
    } catch {
      return [];
    }
  }
  const found: string[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      // pid (comm) state ppid pgrp ...: comm may hold spaces, so split after its closing parenthesis.
      const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(pgrp) !== pgid || state === 'Z') continue;
      const cmdline = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').join(' ').trim();
      if (cmdline.includes(marker)) found.push(`${entry} ${cmdline}`);
    } catch {
      // The process ended while we looked.
    }
  }
  return found;
}
