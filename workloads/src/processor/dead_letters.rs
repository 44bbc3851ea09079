//! A partition's dead-letter stream: each entry no decoder could read, copied there with
//! its reason, once.
//!
//! Written before the batch's PostgreSQL commit, under the bad entry's own id where the
//! stream allows (see [`RECORD`]). After the
//! commit moves the checkpoint past an entry it is never analysed again, so a dead letter
//! written after it was lost whenever that write failed (a Redis restart between the two)
//! and written twice whenever the client resent it (a reply lost to a failover). Before
//! the commit, a failure of either step leaves the entry past the checkpoint, and the
//! partition, restarted, writes it again: the script skips a letter whose id the last
//! letter's `id` field has reached.

use super::batch::DeadLetter;
use redis::aio::ConnectionLike;

/// Dead-letter streams keep about this many entries (`MAXLEN ~`).
const MAX_LEN: usize = 100_000;

/// KEYS: the dead-letter stream. ARGV: MAXLEN, the partition's stream, then per letter
/// its id, reason, error, the number of original fields and those fields' names and
/// values. A letter whose id is at or below the last letter's `id` field is there already
/// (letters are written in id order, a batch's in one call); answers how many were new.
/// Each is added under its own id, or under a new one where the stream's last id is past
/// it (letters written before this script, under the time they were written).
const RECORD: &str = r#"
local function parse(id)
  local ms, seq = string.match(id or '', '^(%d+)-(%d+)$')
  return tonumber(ms or '-1'), tonumber(seq or '-1')
end
local function after(a_ms, a_seq, b_ms, b_seq)
  return a_ms > b_ms or (a_ms == b_ms and a_seq > b_seq)
end
local top_ms, top_seq, last_ms, last_seq = -1, -1, -1, -1
local top = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
if #top > 0 then
  top_ms, top_seq = parse(top[1][1])
  local f = top[1][2]
  for k = 1, #f - 1, 2 do
    if f[k] == 'id' then last_ms, last_seq = parse(f[k + 1]) end
  end
end
local i, written = 3, 0
while i <= #ARGV do
  local id, n = ARGV[i], tonumber(ARGV[i + 3])
  local ms, seq = parse(id)
  if after(ms, seq, last_ms, last_seq) then
    local at = after(ms, seq, top_ms, top_seq) and id or '*'
    local args = {KEYS[1], 'MAXLEN', '~', ARGV[1], at, 'stream', ARGV[2], 'id', id,
      'reason', ARGV[i + 1], 'error', ARGV[i + 2]}
    for j = 1, 2 * n do args[#args + 1] = ARGV[i + 3 + j] end
    top_ms, top_seq = parse(redis.call('XADD', unpack(args)))
    last_ms, last_seq, written = ms, seq, written + 1
  end
  i = i + 4 + 2 * n
end
return written
"#;

/// Copies `letters` (in id order) of the partition `stream` to its dead-letter stream
/// `dead`, each once however often this is called; returns how many were new.
pub async fn record<C: ConnectionLike>(
    con: &mut C,
    dead: &str,
    stream: &str,
    letters: &[DeadLetter],
) -> redis::RedisResult<usize> {
    let mut cmd = redis::cmd("EVAL");
    cmd.arg(RECORD).arg(1).arg(dead).arg(MAX_LEN).arg(stream);
    for d in letters {
        cmd.arg(d.id.to_string())
            .arg(d.reason)
            .arg(&d.message)
            .arg(d.fields.len());
        for (k, v) in &d.fields {
            cmd.arg(format!("original_{k}")).arg(v.as_slice());
        }
    }
    cmd.query_async(con).await
}
