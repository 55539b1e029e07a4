'use strict';
// Preloaded with --require by benchmarks: writes this process's peak RSS (KiB) to $MLSTACK_PEAK_RSS_FILE at exit.
const fs = require('node:fs');
process.on('exit', () => {
  if (process.env.MLSTACK_PEAK_RSS_FILE) fs.writeFileSync(process.env.MLSTACK_PEAK_RSS_FILE, String(process.resourceUsage().maxRSS));
});
