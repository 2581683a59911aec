import FlockTestSupport
import Foundation
import Testing

@Suite("flockctl policy history, show, diff and rollback")
struct HistoryRollbackTests {
    @Test("history lists every version with who applied it")
    func historyShowsAppliers() async throws {
        let sandbox = try Scratch()
        try await sandbox.applyWebV1AndV2(environmentV2: ["USER": "alice"])
        let result = try await sandbox.run(["policy", "history", "--db", sandbox.db, "web"])
        #expect(result.status == 0, "\(result)")
        let header = result.stdoutLines.first ?? ""
        for column in ["VERSION", "APPLIED", "BY", "CHECKSUM", "NOTE"] {
            #expect(header.contains(column), "\(result)")
        }
        let rows = tableRows(result.stdout)
        #expect(rows.count == 2, "\(result)")
        // Row 1: version, date, user, checksum; row 2 is current, marked '*'.
        #expect(rows.first?.first == "1" && rows.first?.contains("tester") == true, "\(result)")
        #expect(rows.last?.prefix(2) == ["*", "2"] && rows.last?.contains("alice") == true, "\(result)")
        // Checksums are 12 hex digits and differ between the two texts.
        let sums = rows.compactMap { $0.first { $0.count == 12 && $0.allSatisfy(\.isHexDigit) } }
        #expect(sums.count == 2 && sums[0] != sums[1], "\(result)")
    }

    @Test("diff between two versions shows the changed line")
    func diffVersions() async throws {
        let sandbox = try Scratch()
        try await sandbox.applyWebV1AndV2()
        let result = try await sandbox.run(["policy", "diff", "--db", sandbox.db, "web", "--from", "1", "--to", "2"])
        #expect(result.status == 0, "\(result)")
        let lines = result.stdoutLines
        #expect(lines.prefix(2) == ["--- web version 1", "+++ web version 2"], "\(result)")
        #expect(lines.filter { $0.hasPrefix("- ") } == ["- " + Fixture.webLine], "\(result)")
        #expect(lines.filter { $0.hasPrefix("+ ") } == ["+ " + Fixture.webLineV2], "\(result)")
        // Context lines are indented by two spaces.
        #expect(lines.contains("  pool: web"), "\(result)")

        let reverse = try await sandbox.run(["policy", "diff", "--db", sandbox.db, "web", "--from", "2", "--to", "1"])
        #expect(reverse.stdoutLines.filter { $0.hasPrefix("- ") } == ["- " + Fixture.webLineV2], "\(reverse)")
        #expect(reverse.stdoutLines.filter { $0.hasPrefix("+ ") } == ["+ " + Fixture.webLine], "\(reverse)")
    }

    @Test("diff of a version with itself shows no change")
    func diffSame() async throws {
        let sandbox = try Scratch()
        try await sandbox.applyWebV1AndV2()
        let result = try await sandbox.run(["policy", "diff", "--db", sandbox.db, "web", "--from", "2", "--to", "2"])
        #expect(result.status == 0, "\(result)")
        #expect(!result.stdoutLines.dropFirst(2).contains { $0.hasPrefix("- ") || $0.hasPrefix("+ ") }, "\(result)")
    }

    @Test("diff with an unknown version fails listing the versions")
    func diffUnknownVersion() async throws {
        let sandbox = try Scratch()
        try await sandbox.applyWebV1AndV2()
        let result = try await sandbox.run(["policy", "diff", "--db", sandbox.db, "web", "--from", "1", "--to", "7"])
        #expect(result.status == 1, "\(result)")
        #expect(result.stderr == "error: pool 'web' has no version 7 (versions: 1, 2)\n", "\(result)")
    }

    @Test("show --version prints that version's exact text")
    func showVersion() async throws {
        let sandbox = try Scratch()
        try await sandbox.applyWebV1AndV2()
        #expect(try await sandbox.show("web", version: 2) == (try Fixture.webV2()))
        #expect(try await sandbox.show("web", version: 1) == (try Fixture.webV1()))
        #expect(try await sandbox.show("web") == (try Fixture.webV2()))
    }

    @Test("rollback records a new version with the old text, a note and the applier")
    func rollback() async throws {
        let sandbox = try Scratch()
        try await sandbox.applyWebV1AndV2()
        let result = try await sandbox.run(["policy", "rollback", "--db", sandbox.db, "web", "--to", "1"])
        #expect(result.status == 0, "\(result)")
        #expect(result.stdoutLines.last == "web: rolled back to version 1, recorded as version 3", "\(result)")
        #expect(
            result.stdout.contains("- " + Fixture.webLineV2) && result.stdout.contains("+ " + Fixture.webLine),
            "\(result)")

        #expect(try await sandbox.show("web") == (try Fixture.webV1()))
        #expect(try await sandbox.show("web", version: 3) == (try Fixture.webV1()))

        let rows = try await sandbox.history("web")
        #expect(rows.count == 3)
        #expect(rows.allSatisfy { $0.contains("tester") }, "\(rows)")
        #expect(rows.last?.prefix(2) == ["*", "3"], "\(rows)")
        #expect(rows.last?.suffix(4) == ["rollback", "to", "version", "1"], "\(rows)")
        #expect(!rows.dropLast().contains { $0.contains("rollback") }, "\(rows)")
        // The rolled-back version has v1's checksum.
        #expect(rows[0].dropFirst(3).first == rows[2].dropFirst(4).first, "\(rows)")

        let list = tableRows(try await sandbox.list().stdout)
        #expect(list.first?.prefix(3) == ["web", "app", "3"])
    }

    @Test("rolling back to the text already in force is a no-op")
    func rollbackTwice() async throws {
        let sandbox = try Scratch()
        try await sandbox.applyWebV1AndV2()
        _ = try await sandbox.run(["policy", "rollback", "--db", sandbox.db, "web", "--to", "1"])
        let again = try await sandbox.run(["policy", "rollback", "--db", sandbox.db, "web", "--to", "1"])
        #expect(again.status == 0, "\(again)")
        #expect(again.stdout == "web: version 3 already has the text of version 1, nothing to do\n", "\(again)")
        #expect(try await sandbox.history("web").count == 3)
    }

    @Test("rolling back to the current version is a no-op")
    func rollbackToCurrent() async throws {
        let sandbox = try Scratch()
        try await sandbox.applyWebV1AndV2()
        let result = try await sandbox.run(["policy", "rollback", "--db", sandbox.db, "web", "--to", "2"])
        #expect(result.status == 0, "\(result)")
        #expect(result.stdout.contains("nothing to do"), "\(result)")
        #expect(try await sandbox.history("web").count == 2)
    }

    @Test("rollback to a version that does not exist fails listing the versions")
    func rollbackUnknownVersion() async throws {
        let sandbox = try Scratch()
        try await sandbox.applyWebV1AndV2()
        let result = try await sandbox.run(["policy", "rollback", "--db", sandbox.db, "web", "--to", "9"])
        #expect(result.status == 1, "\(result)")
        #expect(result.stdout.isEmpty, "\(result)")
        #expect(result.stderr.contains("no version 9"), "\(result)")
        #expect(result.stderr.contains("(versions: 1, 2)"), "\(result)")
        #expect(try await sandbox.history("web").count == 2)
    }

    @Test(
        "commands on an unknown pool fail and point at policy list",
        arguments: [
            ["rollback", "nope", "--to", "1"],
            ["show", "nope"],
            ["show", "nope", "--version", "1"],
            ["history", "nope"],
            ["diff", "nope", "--from", "1", "--to", "2"],
        ])
    func unknownPool(_ command: [String]) async throws {
        let sandbox = try Scratch()
        try await sandbox.applyWebV1AndV2()
        let result = try await sandbox.run(["policy", command[0], "--db", sandbox.db] + command.dropFirst())
        #expect(result.status == 1, "\(result)")
        #expect(result.stdout.isEmpty, "\(result)")
        #expect(result.stderr.contains("'nope'"), "\(result)")
        #expect(result.stderr.contains("flockctl policy list"), "\(result)")
    }

    @Test("list on an empty store says how to add a pool")
    func emptyList() async throws {
        let sandbox = try Scratch()
        let result = try await sandbox.list()
        #expect(result.stdout == "no pools in \(sandbox.db); 'flockctl policy apply FILE' adds one\n", "\(result)")
    }
}
