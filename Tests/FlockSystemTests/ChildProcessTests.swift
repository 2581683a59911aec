import FlockSystem
import FlockTestSupport
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

@Suite struct ChildProcessTests {
    @Test func runReportsTheExitStatusAndCapturesOutput() async throws {
        let outcome = try await ChildProcess.run("sh", ["-c", "echo out; echo err >&2; exit 3"], timeout: .seconds(60))
        #expect(outcome.status == 3)
        #expect(outcome.standardOutput == "out\n")
        #expect(outcome.standardError == "err\n")
    }

    @Test func aSignalledChildReports128PlusTheSignal() async throws {
        let outcome = try await ChildProcess.run("sh", ["-c", "kill -TERM $$"], timeout: .seconds(60))
        #expect(outcome.status == 128 + SIGTERM)
    }

    /// The same status from a signal and from an exit code, told apart by the terminating signal.
    @Test func aSignalIsToldFromAnExitCode() async throws {
        let killed = try await ChildProcess.run("sh", ["-c", "kill -TERM $$"], timeout: .seconds(60))
        #expect(killed.terminatingSignal == SIGTERM)
        let exited = try await ChildProcess.run("sh", ["-c", "exit \(128 + SIGTERM)"], timeout: .seconds(60))
        #expect(exited.status == 128 + SIGTERM)
        #expect(exited.terminatingSignal == nil)

        let started = try await ChildProcess.start("sh", ["-c", "kill -TERM $$"], stdout: "/dev/null")
        #expect(await started.waitForExit(timeout: .seconds(60)) == 128 + SIGTERM)
        #expect(started.terminatingSignal == SIGTERM)
        let ended = try await ChildProcess.start("sh", ["-c", "exit \(128 + SIGTERM)"], stdout: "/dev/null")
        #expect(await ended.waitForExit(timeout: .seconds(60)) == 128 + SIGTERM)
        #expect(ended.terminatingSignal == nil)
    }

    @Test func aStartedChildRunsInTheGivenWorkingDirectory() async throws {
        let scratch = try Scratch(prefix: "flock-system-tests")
        let child = try await ChildProcess.start(
            "sh", ["-c", "pwd -P; echo here > file"], workingDirectory: scratch.dir.path, stdout: scratch.path("out"))
        #expect(await child.waitForExit(timeout: .seconds(60)) == 0)
        #expect(child.stdout == scratch.dir.resolvingSymlinksInPath().path + "\n")
        #expect(FileManager.default.fileExists(atPath: scratch.path("file")))
        await #expect(throws: ChildProcessError.self) {
            try await ChildProcess.start("true", [], workingDirectory: scratch.path("missing"), stdout: "/dev/null")
        }
    }

    /// Output larger than a pipe's buffer (64 KiB) is read while the child runs, so it cannot block.
    @Test func largeOutputDoesNotBlockTheChild() async throws {
        let outcome = try await ChildProcess.run(
            "sh", ["-c", "head -c 300000 /dev/zero | tr '\\\\0' x"], timeout: .seconds(60))
        #expect(outcome.status == 0)
        #expect(outcome.standardOutput.utf8.count == 300_000)
    }

    @Test func aChildPastItsTimeoutIsKilled() async throws {
        let scratch = try Scratch(prefix: "flock-system-tests")
        let directory = scratch.dir.path
        let started = ContinuousClock.now
        do {
            _ = try await ChildProcess.run(
                "sh", ["-c", "echo $$ > \(directory)/pid; exec sleep 120"], log: "\(directory)/log",
                timeout: .milliseconds(500))
            Issue.record("a 120 s sleep finished within 500 ms")
        } catch {
            guard case .timeout = error else { throw error }
        }
        #expect(ContinuousClock.now - started < .seconds(60), "a 120 s child outlived its 500 ms timeout")
        let pid = try #require(
            pid_t(
                String(contentsOfFile: "\(directory)/pid", encoding: .utf8).trimmingCharacters(
                    in: .whitespacesAndNewlines)))
        #expect(kill(pid, 0) != 0, "the timed-out child \(pid) still runs")
    }

    @Test func aCapturingRunPastItsTimeoutIsKilled() async throws {
        let started = ContinuousClock.now
        await #expect(throws: ChildProcessError.self) {
            try await ChildProcess.run("sleep", ["120"], timeout: .milliseconds(300))
        }
        #expect(ContinuousClock.now - started < .seconds(60), "a 120 s child outlived its 300 ms timeout")
    }

    @Test func aMissingExecutableIsAClearError() async throws {
        do {
            _ = try await ChildProcess.run("flock-no-such-tool", [], log: "/dev/null")
            Issue.record("a missing executable ran")
        } catch {
            guard case .notFound("flock-no-such-tool") = error else { throw error }
            #expect(error.description.contains("cannot run flock-no-such-tool"))
        }
        await #expect(throws: ChildProcessError.self) {
            try await ChildProcess.start("/nonexistent/tool", [], stdout: "/dev/null")
        }
    }

    @Test func logsGetOutputAndErrorSeparatelyOrTogether() async throws {
        let scratch = try Scratch(prefix: "flock-system-tests")
        let directory = scratch.dir.path
        let split = try await ChildProcess.start(
            "sh", ["-c", "echo out; echo err >&2"], stdout: "\(directory)/out", stderr: "\(directory)/err")
        #expect(await split.waitForExit(timeout: .seconds(60)) == 0)
        #expect(split.stdout == "out\n")
        #expect(split.stderr == "err\n")
        let status = try await ChildProcess.run("sh", ["-c", "echo one; echo two >&2"], log: "\(directory)/both")
        #expect(status == 0)
        let both = try String(contentsOfFile: "\(directory)/both", encoding: .utf8)
        #expect(both.contains("one\n") && both.contains("two\n"))
    }

    /// A started child runs on after `start` returns, answers signals, and wakes its waiters on exit.
    @Test func aStartedChildCanBeWaitedForAndStopped() async throws {
        let child = try await ChildProcess.start("sleep", ["30"], stdout: "/dev/null", ownProcessGroup: true)
        #expect(child.isRunning)
        #expect(child.pid > 0)
        #expect(getpgid(child.pid) == child.pid, "not in a process group of its own")
        #expect(await child.waitForExit(timeout: .milliseconds(200)) == nil)
        // SIGTERM ends it within the grace (SIGKILL after it would report 128 + SIGKILL).
        #expect(await child.stop(grace: .seconds(30)) == 128 + SIGTERM)
        #expect(!child.isRunning)
        #expect(child.exitStatus == 128 + SIGTERM)
    }

    /// A cancelled caller neither kills the child nor stops waiting for it: clean-up after a Ctrl-C.
    @Test func waitingWorksInACancelledTask() async throws {
        let child = try await ChildProcess.start("sh", ["-c", "sleep 0.3"], stdout: "/dev/null")
        let task = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            return await child.waitForExit(timeout: .seconds(60))
        }
        #expect(await task.value == 0)
    }

    /// Only 0, 1 and 2 reach the child: a descriptor of ours without close-on-exec does not.
    @Test func descriptorsAreNotInherited() async throws {
        let fd = open("/dev/null", O_RDONLY)  // no O_CLOEXEC on purpose
        defer { close(fd) }
        let outcome = try await ChildProcess.run("ls", ["/proc/self/fd"], timeout: .seconds(60))
        let open = outcome.standardOutput.split(separator: "\n").compactMap { Int32($0) }
        #expect(!open.contains(fd), "fd \(fd) leaked: \(open)")
    }

    @Test func theEnvironmentIsInheritedAndExtended() async throws {
        let outcome = try await ChildProcess.run(
            "sh", ["-c", "echo $FLOCK_TEST_VALUE:${PATH:+path}"], environment: ["FLOCK_TEST_VALUE": "42"])
        #expect(outcome.standardOutput == "42:path\n")
    }
}
