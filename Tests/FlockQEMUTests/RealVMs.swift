import Testing

/// Every suite that boots guest VMs, run one suite at a time: TCG guests on two shared cores
/// are CPU-bound, and running the VM suites side by side would starve each other and the
/// timing-sensitive tests of other modules.
@Suite(.serialized) enum RealVMs {}
