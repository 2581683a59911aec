import FlockTestSupport
import Foundation
import Testing

@Suite("flockctl simulate: bad input and usage errors")
struct SimulateInputTests {
    private func simulate(_ sandbox: Scratch, csv: String, extra: [String] = []) async throws -> (String, CLIResult) {
        let file = try sandbox.write("metrics.csv", csv)
        let result = try await sandbox.run(["simulate", "--policy", Repo.policy("web"), "--metrics", file] + extra)
        return (file, result)
    }

    @Test("an unknown metric column is an error on line 1")
    func unknownColumn() async throws {
        let sandbox = try Scratch()
        let (file, result) = try await simulate(sandbox, csv: "time_s,sessions,bogus\n0,10,1\n")
        #expect(result.status == 1, "\(result)")
        #expect(result.stdout.isEmpty, "\(result)")
        #expect(result.stderr.hasPrefix("\(file):1: error: unknown metric 'bogus'"), "\(result)")
    }

    @Test("a per-server column is rejected with a hint to record the total")
    func perServerColumn() async throws {
        let sandbox = try Scratch()
        let (file, result) = try await simulate(sandbox, csv: "time_s,sessions_per_server\n0,10\n")
        #expect(result.status == 1, "\(result)")
        #expect(result.stderr.hasPrefix("\(file):1: error: "), "\(result)")
        #expect(result.stderr.contains("sessions_per_server"), "\(result)")
        #expect(result.stderr.contains("hint: record the backend total 'sessions'"), "\(result)")
    }

    @Test("a non-numeric value is located on its line")
    func nonNumeric() async throws {
        let sandbox = try Scratch()
        let (file, result) = try await simulate(sandbox, csv: "time_s,sessions\n0,10\n2,12\n4,abc\n6,14\n")
        #expect(result.status == 1, "\(result)")
        #expect(result.stderr.hasPrefix("\(file):4: error: "), "\(result)")
        #expect(result.stderr.contains("'abc'"), "\(result)")
    }

    @Test("line numbers count comment and blank lines")
    func lineNumbersCountEveryLine() async throws {
        let sandbox = try Scratch()
        let (file, result) = try await simulate(sandbox, csv: "time_s,sessions\n# recorded on staging\n0,10\n\n2,x\n")
        #expect(result.status == 1, "\(result)")
        #expect(result.stderr.hasPrefix("\(file):5: error: "), "\(result)")
    }

    @Test("unsorted time_s is located on the first row that goes back")
    func unsorted() async throws {
        let sandbox = try Scratch()
        let (file, result) = try await simulate(sandbox, csv: "time_s,sessions\n0,10\n4,12\n2,11\n6,13\n")
        #expect(result.status == 1, "\(result)")
        #expect(result.stderr.hasPrefix("\(file):4: error: "), "\(result)")
        #expect(result.stderr.contains("sort the rows by time_s"), "\(result)")
    }

    @Test("a repeated time_s is not accepted either")
    func repeatedTime() async throws {
        let sandbox = try Scratch()
        let (file, result) = try await simulate(sandbox, csv: "time_s,sessions\n0,10\n2,12\n2,11\n")
        #expect(result.status == 1, "\(result)")
        #expect(result.stderr.hasPrefix("\(file):4: error: "), "\(result)")
    }

    @Test("a row with the wrong number of cells is located")
    func wrongCellCount() async throws {
        let sandbox = try Scratch()
        let (file, result) = try await simulate(sandbox, csv: "time_s,sessions,queue\n0,10,0\n2,12\n")
        #expect(result.status == 1, "\(result)")
        #expect(result.stderr.hasPrefix("\(file):3: error: expected 3 values, got 2"), "\(result)")
    }

    @Test("the first column must be time_s")
    func firstColumn() async throws {
        let sandbox = try Scratch()
        let (file, result) = try await simulate(sandbox, csv: "sessions,time_s\n10,0\n")
        #expect(result.status == 1, "\(result)")
        #expect(result.stderr.hasPrefix("\(file):1: error: "), "\(result)")
        #expect(result.stderr.contains("time_s"), "\(result)")
    }

    @Test("an empty cell is missing data, not an error")
    func emptyCell() async throws {
        let sandbox = try Scratch()
        let (_, result) = try await simulate(
            sandbox, csv: "time_s,sessions,queue\n0,10,0\n2,,0\n4,30,\n6,12,0\n", extra: ["--format", "json"])
        #expect(result.status == 0, "\(result)")
        #expect(result.stderr.isEmpty, "\(result)")
        let last = result.stdoutLines.last.flatMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
        #expect(last?["summary"] != nil, "\(result)")
    }

    /// Known bug: `MetricsCSV.parse` splits with `String.split(separator: "\n")`; Swift treats CR LF
    /// as one Character, so a CRLF file is one line and its header swallows the data
    /// ("unknown metric 'sessions\r\n0'"), although the parser trims "\r" to support CRLF.
    @Test("CRLF line endings are accepted")
    func crlf() async throws {
        let sandbox = try Scratch()
        let csv = "time_s,sessions\r\n0,10\r\n2,12\r\n4,x\r\n"
        let (file, result) = try await simulate(sandbox, csv: csv, extra: ["--format", "json"])
        // The bad value on line 4 must be found on line 4, with the header understood.
        #expect(result.status == 1, "\(result)")
        #expect(result.stderr.hasPrefix("\(file):4: error: sessions must be a number or empty; got 'x'"), "\(result)")
        let (_, good) = try await simulate(
            sandbox, csv: "time_s,sessions\r\n0,10\r\n2,12\r\n", extra: ["--format", "json"])
        #expect(good.status == 0, "\(good)")
        #expect(good.stderr.isEmpty, "\(good)")
    }

    @Test("a metrics file without the policy's metric warns on stderr but still runs")
    func missingColumnWarns() async throws {
        let sandbox = try Scratch()
        let (file, result) = try await simulate(sandbox, csv: "time_s,queue\n0,1\n2,1\n")
        #expect(result.status == 0, "\(result)")
        #expect(result.stderr.hasPrefix("warning: \(file) has no column for sessions"), "\(result)")
    }

    @Test("a metrics file that does not exist fails with its path")
    func missingMetricsFile() async throws {
        let sandbox = try Scratch()
        let file = sandbox.path("absent.csv")
        let result = try await sandbox.run(["simulate", "--policy", Repo.policy("web"), "--metrics", file])
        #expect(result.status == 1, "\(result)")
        #expect(result.stderr.contains(file), "\(result)")
    }

    @Test("an invalid policy is reported with its location and nothing is simulated")
    func invalidPolicy() async throws {
        let sandbox = try Scratch()
        let policy = try sandbox.write(
            "p.yaml", try Fixture.webV1().replacingOccurrences(of: "aggregate: mean", with: "aggregate: median"))
        let result = try await sandbox.run(["simulate", "--policy", policy, "--metrics", Repo.loadStep])
        #expect(result.status == 1, "\(result)")
        #expect(result.stdout.isEmpty, "\(result)")
        #expect(result.stderr.contains("\(policy):14:16: error: "), "\(result)")
        #expect(result.stderrLines.last == "1 error; nothing was simulated", "\(result)")
    }

    @Test(
        "bad options are usage errors with a hint",
        arguments: [
            ["--clone-latency", "3"],
            ["--clone-latency", "1.5s"],
            ["--start-count", "0"],
            ["--format", "xml"],
            ["--bogus"],
        ])
    func usageErrors(_ extra: [String]) async throws {
        let sandbox = try Scratch()
        let result = try await sandbox.run(
            ["simulate", "--policy", Repo.policy("web"), "--metrics", Repo.loadStep] + extra)
        expectUsageError(result, command: "flockctl simulate")
        #expect(result.stderr.contains(extra[0]), "the error names the option\n\(result)")
        if extra[0] == "--clone-latency" {
            #expect(result.stderr.contains("write a whole number with ms, s, m or h"), "and the form it takes\n\(result)")
        }
    }

    @Test("a missing required option is a usage error", arguments: ["--policy", "--metrics"])
    func missingOption(_ option: String) async throws {
        let sandbox = try Scratch()
        let all = ["--policy": Repo.policy("web"), "--metrics": Repo.loadStep]
        let given = all.filter { $0.key != option }.flatMap { [$0.key, $0.value] }
        let result = try await sandbox.run(["simulate"] + given)
        expectUsageError(result, command: "flockctl simulate")
        #expect(result.stderr.contains(option), "\(result)")
    }
}
