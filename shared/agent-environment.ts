// What vsync adds to the agent's environment when it starts one (the client's autostart, the systemd unit;
// bench/ starts its agents the same way), unless the user's environment already says otherwise.
//
// MALLOC_MMAP_THRESHOLD_: glibc serves an allocation of at least this many bytes from its own mmap and
// returns it to the system when freed. Left to glibc, the threshold grows with the largest block freed, so
// after one large version the buffers of every later stream come from the heap, which fragments and does
// not shrink. `npm run bench -- --growth`, 256 MB vault: the pull's peak 141 -> 121 MiB, RSS after it
// 118-126 -> 101-103 MiB (idle ~75). Other C libraries (macOS) ignore the variable.
export const AGENT_ENVIRONMENT: Readonly<Record<string, string>> = {
  MALLOC_MMAP_THRESHOLD_: '131072',
};
