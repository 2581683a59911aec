import Testing

/// Flock end to end: real HAProxy, real QEMU guests under TCG, the built flockd as a process
/// and wrk as the load. One suite, serialized, run alone (Deploy/test.sh): the guests share two
/// cores with everything else, and the tests share one warm parent.
@Suite(.serialized) struct EndToEnd {}
