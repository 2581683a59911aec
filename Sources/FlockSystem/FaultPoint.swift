import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A test-only crash hook: named steps of a scale-out or a scale-in where the fault suite
/// (`Tests/FlockEndToEndTests/Faults*`) makes flockd die, to prove that a SIGKILL at that exact
/// step converges after a restart.
///
/// `FaultPoint.reach("name")` sends SIGKILL to the own process when the environment variable
/// `FLOCK_FAULT_KILL_AT` equals `name`; the test sets it for one flockd run only. The hook
/// exists in debug builds only (`#if DEBUG`, what `swift build` and `swift test` make): a
/// release build (`swift build -c release`, how flockd is installed) compiles every call to
/// nothing, so no environment can crash a production daemon.
///
/// The names, in the order a pool meets them (`journaled()` adds `<action>:intent` and
/// `<action>:done` for clone, register, drain, remove and destroy):
/// - scale-out: `scale-out:decided`, `snapshot:paused`, `clone:started`, `scale-out:ready`,
///   `register:maintenance`, `register:enabled`, `scale-out:serving`;
/// - scale-in: `drain:intent` (draining), `drain:done` (drained), `remove:maintenance`,
///   `remove:done` (deleted), `destroy:done` (VM destroyed), `destroy:gone`.
public enum FaultPoint {
    /// The environment variable that names the step to die at.
    public static let variable = "FLOCK_FAULT_KILL_AT"

    #if DEBUG
        /// Read once: the environment does not change under a running daemon.
        private static let target = ProcessInfo.processInfo.environment[variable]

        /// SIGKILLs this process if `name` is the step `FLOCK_FAULT_KILL_AT` names.
        public static func reach(_ name: String) {
            guard target == name else { return }
            FileHandle.standardError.write(Data("\(variable)=\(name): killing myself\n".utf8))
            kill(getpid(), SIGKILL)
        }
    #else
        @inline(__always) public static func reach(_ name: String) {}
    #endif
}
