import FlockTestSupport
import Foundation
import Testing

/// Policy texts derived from the shipped examples.
enum Fixture {
    static let webLine = "capacity: { min: 1, max: 16 } # serving instances, the parent included"
    static let webLineV2 = "capacity: { min: 1, max: 20 } # serving instances, the parent included"

    /// Policies/web.yaml, version 1 as shipped.
    static func webV1() throws -> String { try Repo.read(Repo.policy("web")) }

    /// Policies/web.yaml with capacity.max raised from 16 to 20.
    static func webV2() throws -> String {
        let v1 = try webV1()
        precondition(v1.contains(webLine), "Policies/web.yaml no longer has the line the tests edit")
        return v1.replacingOccurrences(of: webLine, with: webLineV2)
    }
}

extension Scratch {
    /// Applies Policies/web.yaml, then a copy with max 20, so the store holds web v1 and v2.
    /// Returns the path of the v2 file.
    @discardableResult
    func applyWebV1AndV2(environmentV2: [String: String] = [:]) async throws -> String {
        let first = try await run(["policy", "apply", "--db", db, Repo.policy("web")])
        #expect(first.status == 0, "\(first)")
        let v2 = try write("v2/web.yaml", try Fixture.webV2())
        let second = try await run(["policy", "apply", "--db", db, v2], environment: environmentV2)
        #expect(second.status == 0, "\(second)")
        return v2
    }

    /// The data rows of `policy history POOL`.
    func history(_ pool: String) async throws -> [[String]] {
        let result = try await run(["policy", "history", "--db", db, pool])
        #expect(result.status == 0, "\(result)")
        return tableRows(result.stdout)
    }

    /// `policy show POOL [--version N]` stdout, exactly.
    func show(_ pool: String, version: Int? = nil) async throws -> String {
        let result = try await run(
            ["policy", "show", "--db", db, pool] + (version.map { ["--version", "\($0)"] } ?? []))
        #expect(result.status == 0, "\(result)")
        return result.stdout
    }

    /// `policy list` stdout.
    func list() async throws -> CLIResult {
        let result = try await run(["policy", "list", "--db", db])
        #expect(result.status == 0, "\(result)")
        return result
    }
}
