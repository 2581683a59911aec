import FlockGuestKit
import FlockTestSupport
import Foundation
import Testing

/// The clone hooks run as the agent runs them, as real processes, here on the host (the kit is
/// Glibc only): which files count, their order, their environment, their limits.
///
/// Serialized: Foundation writes the scripts through descriptors without close-on-exec, so a
/// hook spawned by a test running alongside could inherit one and make `posix_spawn` of the
/// script being written fail with ETXTBSY. (The agent itself is single-threaded.)
@Suite(.serialized) struct CloneHooksTests {
    private func hook(_ scratch: Scratch, _ name: String, _ body: String, mode: Int = 0o755) throws {
        let path = try scratch.write("clone.d/\(name)", "#!/bin/sh\n" + body + "\n")
        try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: path)
    }

    private let environment = CloneHooks.environment(
        cloneID: "flock-web-a1", generation: 4, hostname: "flock-web-a1",
        network: (mac: "52:54:00:00:00:01", address: "10.77.0.5", prefix: 24, gateway: "10.77.0.1"))

    @Test func onlyExecutableRegularFilesRunInByteOrderSkippingDotfilesAndLeftovers() throws {
        let scratch = try Scratch()
        for name in ["20-b", "10-a", "B-upper", "a-lower", ".hidden", "30-c~", "40-d.dpkg-old", "50-e.dpkg-dist"] {
            try hook(scratch, name, "exit 0")
        }
        try hook(scratch, "15-not-executable", "exit 0", mode: 0o644)
        try FileManager.default.createDirectory(
            atPath: scratch.path("clone.d/25-dir"), withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: scratch.path("clone.d/60-link"), withDestinationPath: "10-a")
        #expect(CloneHooks.runnable(in: scratch.path("clone.d")) == ["10-a", "20-b", "60-link", "B-upper", "a-lower"])
        #expect(CloneHooks.runnable(in: scratch.path("missing")) == [], "no directory, no hooks")
    }

    @Test func hooksGetTheIdentityInACleanEnvironmentAndRunInOrder() throws {
        let scratch = try Scratch()
        let log = scratch.path("log")
        try hook(scratch, "10-env", "env | sort >> \(log); echo ran-10 >> \(log)")
        try hook(scratch, "20-next", "echo ran-20 >> \(log); echo hello; echo oops >&2")
        let results = CloneHooks.run(in: scratch.path("clone.d"), environment: environment)
        #expect(results.map(\.name) == ["10-env", "20-next"])
        #expect(results.allSatisfy { $0.outcome == .exited(0) && $0.outcome.succeeded })
        #expect(results[1].output == "hello\noops\n", "stdout and stderr both captured")
        let text = try String(contentsOfFile: log, encoding: .utf8)
        let lines = text.split(separator: "\n").map(String.init)
        for expected in [
            "FLOCK_CLONE_ID=flock-web-a1", "FLOCK_GENERATION=4", "FLOCK_HOSTNAME=flock-web-a1",
            "FLOCK_IDENTITY_FILE=/run/flock/identity.json", "FLOCK_MAC=52:54:00:00:00:01", "FLOCK_ADDRESS=10.77.0.5",
            "FLOCK_PREFIX=24", "FLOCK_GATEWAY=10.77.0.1", "PATH=\(CloneHooks.path)",
        ] {
            #expect(lines.contains(expected), "\(expected) missing from \(lines)")
        }
        #expect(!lines.contains { $0.hasPrefix("HOME=") }, "nothing of the agent's own environment leaks in")
        #expect(lines.suffix(2) == ["ran-10", "ran-20"])
    }

    @Test func withoutANetworkTheNetworkVariablesAreAbsent() {
        let names = CloneHooks.environment(cloneID: "c", generation: 0, hostname: "c", network: nil).map(\.0)
        #expect(names == ["PATH", "FLOCK_CLONE_ID", "FLOCK_GENERATION", "FLOCK_HOSTNAME", "FLOCK_IDENTITY_FILE"])
    }

    @Test func theFirstFailureStopsTheRestWithItsOutput() throws {
        let scratch = try Scratch()
        let marker = scratch.path("30-ran")
        try hook(scratch, "10-ok", "exit 0")
        try hook(scratch, "20-fail", #"printf 'cannot reach the pool\033[2J\n'; exit 3"#)
        try hook(scratch, "30-never", "touch \(marker)")
        let results = CloneHooks.run(in: scratch.path("clone.d"), environment: environment)
        #expect(results.map(\.name) == ["10-ok", "20-fail"])
        #expect(results[1].outcome == .exited(3) && results[1].outcome.description == "exit 3")
        #expect(results[1].output == "cannot reach the pool\u{1b}[2J\n")
        #expect(!FileManager.default.fileExists(atPath: marker), "hooks after a failure do not run")
    }

    @Test func aSignalAndAFileThatCannotBeExecutedAreFailures() throws {
        let scratch = try Scratch()
        try hook(scratch, "10-killed", "kill -TERM $$")
        #expect(CloneHooks.run(in: scratch.path("clone.d"), environment: environment).last?.outcome == .signaled(15))
        let other = try Scratch()
        let path = try other.write("clone.d/10-no-interpreter", "exit 0\n")
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: path)
        let result = try #require(CloneHooks.run(in: other.path("clone.d"), environment: environment).last)
        #expect(result.outcome == .notStarted(ENOEXEC) && result.outcome.description.hasPrefix("not started: "))
    }

    @Test func aHookPastItsTimeLimitIsKilledWithItsChildren() throws {
        let scratch = try Scratch()
        let pidFile = scratch.path("child.pid")
        try hook(scratch, "10-slow", "sleep 30 & echo $! > \(pidFile); echo waiting; wait")
        let started = ContinuousClock.now
        let results = CloneHooks.run(in: scratch.path("clone.d"), environment: environment, timeLimitMs: 500)
        #expect(ContinuousClock.now - started < .seconds(5))
        let result = try #require(results.last)
        guard case .timedOut(let ms) = result.outcome else {
            Issue.record("expected a time-out, got \(result.outcome)")
            return
        }
        #expect(ms >= 500 && result.outcome.description.hasPrefix("timed out after "))
        #expect(result.output == "waiting\n")
        let child = try #require(
            pid_t(try String(contentsOfFile: pidFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)))
        #expect(isGoneOrZombie(child), "the hook's background child is killed with its process group")
    }

    @Test func theSharedBudgetCutsALaterHookShort() throws {
        let scratch = try Scratch()
        try hook(scratch, "10-uses-most", "sleep 0.6")
        try hook(scratch, "20-gets-the-rest", "sleep 5")
        let results = CloneHooks.run(
            in: scratch.path("clone.d"), environment: environment, timeLimitMs: 5_000, totalLimitMs: 1_000)
        #expect(results.first?.outcome == .exited(0))
        guard case .timedOut(let ms) = results.last?.outcome else {
            Issue.record("expected the second hook to time out: \(results)")
            return
        }
        #expect(ms < 1_000, "it only gets what is left of the budget")
    }

    @Test func onlyTheEndOfALongOutputIsKept() throws {
        let scratch = try Scratch()
        try hook(scratch, "10-chatty", "i=0; while [ $i -lt 2000 ]; do echo line-$i; i=$((i+1)); done; exit 1")
        let result = try #require(CloneHooks.run(in: scratch.path("clone.d"), environment: environment).last)
        #expect(result.output.utf8.count == CloneHooks.outputLimit)
        #expect(result.output.hasSuffix("line-1999\n"))
    }

    private func isGoneOrZombie(_ pid: pid_t) -> Bool {
        for _ in 0..<50 {
            let stat = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? ""
            if stat.isEmpty || stat.contains(") Z ") { return true }
            usleep(20_000)
        }
        return false
    }
}
