// Writes a balance history CSV for `topupd simulate` benchmarks: two accounts, one row
// each per minute, a payout balance burning faster in business hours and a settlement
// balance growing. Usage: node bench/gen_history.mjs ROWS > history.csv
const rows = Number(process.argv[2] ?? 1_000_000);
let payout = 3_000_000_000n;   // minor units (IDR 30,000,000.00)
let settlement = 2_000_000_000n;
let t = Date.UTC(2026, 0, 1) - 7 * 3600 * 1000;  // 2026-01-01T00:00+07:00
const pad = (n) => String(n).padStart(2, "0");
const stamp = (ms) => {
  const d = new Date(ms + 7 * 3600 * 1000);
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}T${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:00+07:00`;
};
const major = (minor) => {
  const magnitude = minor < 0n ? -minor : minor;
  return `${minor < 0n ? "-" : ""}${magnitude / 100n}.${pad(Number(magnitude % 100n))}`;
};
let buffer = "";
process.stdout.write("timestamp,account,balance\n");
for (let i = 0; i < rows / 2; i++) {
  const hour = new Date(t + 7 * 3600 * 1000).getUTCHours();
  payout -= hour >= 8 && hour < 18 ? 4_166_667n : 1_000_000n;
  settlement += 1_666_667n;
  const s = stamp(t);
  buffer += `${s},payout,${major(payout)}\n${s},settlement,${major(settlement)}\n`;
  if (buffer.length > 1 << 20) {
    process.stdout.write(buffer);
    buffer = "";
  }
  t += 60_000;
}
process.stdout.write(buffer);
