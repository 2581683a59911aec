import FlockTestSupport
import Foundation
import Testing

@Suite("flockctl policy apply")
struct ApplyTests {
    @Test("applying to a fresh store shows every line as added and stores version 1")
    func firstApply() async throws {
        let sandbox = try Scratch()
        let file = Repo.policy("web")
        let text = try Repo.read(file)
        let result = try await sandbox.run(["policy", "apply", "--db", sandbox.db, file])
        #expect(result.status == 0, "\(result)")
        #expect(result.stderr.isEmpty, "\(result)")
        #expect(result.stdout.contains("web: \(file) → version 1 (new pool)"), "\(result)")
        let sourceLines = text.split(separator: "\n", omittingEmptySubsequences: false).dropLast().map(String.init)
        let added = result.stdoutLines.filter { $0.hasPrefix("+ ") }.map { String($0.dropFirst(2)) }
        #expect(added == sourceLines, "\(result)")
        #expect(!result.stdoutLines.contains { $0.hasPrefix("- ") }, "\(result)")
        #expect(result.stdoutLines.last == "applied web v1 to \(sandbox.db)", "\(result)")

        let list = try await sandbox.list()
        let rows = tableRows(list.stdout)
        #expect(rows.count == 1, "\(list)")
        #expect(rows.first?.prefix(3) == ["web", "app", "1"], "\(list)")
        #expect(rows.first?.contains("tester") == true, "\(list)")
        #expect(rows.first?.last == "no", "paused column\n\(list)")

        #expect(try await sandbox.show("web") == text)
    }

    @Test("re-applying identical text is a no-op")
    func reapplyIsNoOp() async throws {
        let sandbox = try Scratch()
        let file = Repo.policy("web")
        _ = try await sandbox.run(["policy", "apply", "--db", sandbox.db, file])
        let again = try await sandbox.run(["policy", "apply", "--db", sandbox.db, file])
        #expect(again.status == 0, "\(again)")
        #expect(again.stdout == "web: unchanged (version 1), nothing to apply\n", "\(again)")
        #expect(try await sandbox.history("web").count == 1)
    }

    @Test("the same text from another path is still unchanged")
    func reapplyCopyIsNoOp() async throws {
        let sandbox = try Scratch()
        _ = try await sandbox.run(["policy", "apply", "--db", sandbox.db, Repo.policy("web")])
        let copy = try sandbox.write("copy/web.yaml", try Fixture.webV1())
        let again = try await sandbox.run(["policy", "apply", "--db", sandbox.db, copy])
        #expect(again.status == 0, "\(again)")
        #expect(again.stdout.contains("unchanged (version 1)"), "\(again)")
        #expect(try await sandbox.history("web").count == 1)
    }

    @Test("a modified file shows the old line removed and the new one added, as version 2")
    func modifiedApply() async throws {
        let sandbox = try Scratch()
        _ = try await sandbox.run(["policy", "apply", "--db", sandbox.db, Repo.policy("web")])
        let v2 = try sandbox.write("v2/web.yaml", try Fixture.webV2())
        let result = try await sandbox.run(["policy", "apply", "--db", sandbox.db, v2])
        #expect(result.status == 0, "\(result)")
        #expect(result.stdout.contains("web: \(v2) → version 2 (was version 1)"), "\(result)")
        let lines = result.stdoutLines
        #expect(lines.filter { $0.hasPrefix("- ") } == ["- " + Fixture.webLine], "\(result)")
        #expect(lines.filter { $0.hasPrefix("+ ") } == ["+ " + Fixture.webLineV2], "\(result)")
        // The removal comes right before the addition.
        if let minus = lines.firstIndex(of: "- " + Fixture.webLine) {
            #expect(lines.indices.contains(minus + 1) && lines[minus + 1] == "+ " + Fixture.webLineV2, "\(result)")
        }
        #expect(lines.last == "applied web v2 to \(sandbox.db)", "\(result)")

        let rows = tableRows(try await sandbox.list().stdout)
        #expect(rows.first?.prefix(3) == ["web", "app", "2"])
        #expect(try await sandbox.show("web") == (try Fixture.webV2()))
        #expect(try await sandbox.history("web").count == 2)
    }

    @Test("--dry-run shows the diff and stores nothing")
    func dryRun() async throws {
        let sandbox = try Scratch()
        _ = try await sandbox.run(["policy", "apply", "--db", sandbox.db, Repo.policy("web")])
        let v2 = try sandbox.write("v2/web.yaml", try Fixture.webV2())
        let result = try await sandbox.run(["policy", "apply", "--db", sandbox.db, "--dry-run", v2])
        #expect(result.status == 0, "\(result)")
        #expect(result.stdout.contains("- " + Fixture.webLine), "\(result)")
        #expect(result.stdout.contains("+ " + Fixture.webLineV2), "\(result)")
        #expect(result.stdoutLines.last == "dry run: nothing was stored", "\(result)")
        #expect(!result.stdout.contains("applied"), "\(result)")

        #expect(try await sandbox.history("web").count == 1)
        #expect(try await sandbox.show("web") == (try Fixture.webV1()))
    }

    @Test("--dry-run on a fresh store adds no pool")
    func dryRunFresh() async throws {
        let sandbox = try Scratch()
        let result = try await sandbox.run(["policy", "apply", "--dry-run", "--db", sandbox.db, Repo.policy("web")])
        #expect(result.status == 0, "\(result)")
        #expect(result.stdout.contains("+ pool: web"), "\(result)")
        #expect(try await sandbox.list().stdout.hasPrefix("no pools in \(sandbox.db)"))
    }

    @Test("several files apply together, one version each")
    func applySeveral() async throws {
        let sandbox = try Scratch()
        let files = ["api", "web", "worker"].map(Repo.policy)
        let result = try await sandbox.run(["policy", "apply", "--db", sandbox.db] + files)
        #expect(result.status == 0, "\(result)")
        #expect(result.stdoutLines.last == "applied api v1, web v1, worker v1 to \(sandbox.db)", "\(result)")
        let rows = tableRows(try await sandbox.list().stdout)
        #expect(
            rows.map { Array($0.prefix(3)) } == [
                ["api", "api", "1"], ["web", "app", "1"], ["worker", "workers", "1"],
            ])
    }

    @Test("one invalid file among valid ones applies nothing")
    func invalidFileAppliesNothing() async throws {
        let sandbox = try Scratch()
        let bad = try sandbox.write("bad.yaml", "pool: api\nparent: p\n")
        for order in [[Repo.policy("web"), bad], [bad, Repo.policy("web")]] {
            let result = try await sandbox.run(["policy", "apply", "--db", sandbox.db] + order)
            #expect(result.status == 1, "\(result)")
            #expect(result.stderr.contains("\(bad):"), "\(result)")
            #expect(result.stderr.contains("nothing was applied"), "\(result)")
            #expect(!result.stdout.contains("applied web"), "\(result)")
        }
        let list = try await sandbox.list()
        #expect(list.stdout.hasPrefix("no pools in \(sandbox.db)"), "\(list)")
    }

    @Test("a missing file among valid ones applies nothing")
    func missingFileAppliesNothing() async throws {
        let sandbox = try Scratch()
        let missing = sandbox.path("missing.yaml")
        let result = try await sandbox.run(["policy", "apply", "--db", sandbox.db, Repo.policy("web"), missing])
        #expect(result.status == 1, "\(result)")
        #expect(result.stderr.contains(missing), "\(result)")
        #expect(result.stderr.contains("nothing was applied"), "\(result)")
        #expect(try await sandbox.list().stdout.hasPrefix("no pools in"))
    }

    @Test("two files defining the same pool apply nothing")
    func duplicatePool() async throws {
        let sandbox = try Scratch()
        let other = try sandbox.write("other/web.yaml", try Fixture.webV2())
        let result = try await sandbox.run(["policy", "apply", "--db", sandbox.db, Repo.policy("web"), other])
        #expect(result.status == 1, "\(result)")
        #expect(result.stderr.contains("pool 'web' is also defined in \(Repo.policy("web"))"), "\(result)")
        #expect(result.stderr.contains("nothing was applied"), "\(result)")
        #expect(try await sandbox.list().stdout.hasPrefix("no pools in"))
    }

    @Test("the same file given twice is a duplicate pool too")
    func sameFileTwice() async throws {
        let sandbox = try Scratch()
        let result = try await sandbox.run([
            "policy", "apply", "--db", sandbox.db, Repo.policy("web"), Repo.policy("web"),
        ])
        #expect(result.status == 1, "\(result)")
        #expect(try await sandbox.list().stdout.hasPrefix("no pools in"))
    }

    @Test("a store that is not a database is an operational error")
    func notADatabase() async throws {
        let sandbox = try Scratch()
        let db = try sandbox.write("junk.db", "this is not sqlite, just some text that is long enough to matter\n")
        let result = try await sandbox.run(["policy", "apply", "--db", db, Repo.policy("web")])
        #expect(result.status == 1, "\(result)")
        #expect(result.stderr.contains(db), "\(result)")
    }

    /// Known bug: `lineDiff` splits with `String.split(separator: "\n")`, and Swift treats CR LF as
    /// one Character, so a CRLF file is a single "line": any edit shows the whole file removed and
    /// re-added (`policy apply` and `policy diff` both).
    @Test("a policy with CRLF line endings is diffed line by line")
    func crlfPolicyDiff() async throws {
        let sandbox = try Scratch()
        func crlf(_ text: String) -> String { text.replacingOccurrences(of: "\n", with: "\r\n") }
        let v1 = try sandbox.write("crlf/v1/web.yaml", crlf(try Fixture.webV1()))
        let v2 = try sandbox.write("crlf/v2/web.yaml", crlf(try Fixture.webV2()))

        let first = try await sandbox.run(["policy", "apply", "--db", sandbox.db, v1])
        #expect(first.status == 0, "\(first)")
        let sourceLineCount = try Fixture.webV1().split(separator: "\n").count
        #expect(first.stdoutLines.filter { $0.hasPrefix("+ ") }.count == sourceLineCount, "\(first)")

        let second = try await sandbox.run(["policy", "apply", "--db", sandbox.db, v2])
        #expect(second.status == 0, "\(second)")
        let removed = second.stdoutLines.filter { $0.hasPrefix("- ") }
        let added = second.stdoutLines.filter { $0.hasPrefix("+ ") }
        #expect(removed == ["- " + Fixture.webLine], "\(second)")
        #expect(added == ["+ " + Fixture.webLineV2], "\(second)")

        let diff = try await sandbox.run(["policy", "diff", "--db", sandbox.db, "web", "--from", "1", "--to", "2"])
        #expect(diff.stdoutLines.filter { $0.hasPrefix("- ") } == ["- " + Fixture.webLine], "\(diff)")
        #expect(diff.stdoutLines.filter { $0.hasPrefix("+ ") } == ["+ " + Fixture.webLineV2], "\(diff)")
        // The stored text is still byte-exact.
        #expect(try await sandbox.show("web", version: 2) == crlf(try Fixture.webV2()))
    }
}
