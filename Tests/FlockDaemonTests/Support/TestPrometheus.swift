import FlockSystem
import FlockTestSupport
import Foundation

/// A real Prometheus (Debian's package) on loopback, scraping the given targets every second and
/// evaluating the shipped rule files of `Deploy/prometheus/` every second, with its own storage
/// in the scratch directory; stopped when released.
final class TestPrometheus: @unchecked Sendable {
    let port: Int
    let child: Child

    static let binary = ["/usr/bin/prometheus", "/usr/local/bin/prometheus"]
        .first { FileManager.default.isExecutableFile(atPath: $0) }
    static let promtool = ["/usr/bin/promtool", "/usr/local/bin/promtool"]
        .first { FileManager.default.isExecutableFile(atPath: $0) }
    static let notInstalled = ProcessFailure(
        "prometheus is not installed; run 'bash Deploy/setup.sh' (Deploy/test.sh does)")

    /// The shipped rule files, as `Deploy/prometheus/prometheus.yml` loads them.
    static let ruleFiles = ["flock-rules.yml", "flock-alerts.yml"].map { Repo.path("Deploy/prometheus/\($0)") }

    /// - Parameter targets: job name → `HOST:PORT` serving `/metrics`.
    init(in scratch: Scratch, targets: [(job: String, address: String)]) async throws {
        guard let binary = Self.binary else { throw Self.notInstalled }
        port = try freeLoopbackPort()
        // The shipped scrape config names the production ports; this one names the test's, and
        // loads the shipped rule files unchanged.
        let scrapes = targets.map {
            """
              - job_name: \($0.job)
                static_configs: [{ targets: ["\($0.address)"] }]
            """
        }
        let config = try scratch.write(
            "prometheus.yml",
            """
            global: { scrape_interval: 1s, scrape_timeout: 1s, evaluation_interval: 1s }
            rule_files: [\(Self.ruleFiles.map { "\"\($0)\"" }.joined(separator: ", "))]
            scrape_configs:
            \(scrapes.joined(separator: "\n"))

            """)
        child = try await Child.start(
            URL(fileURLWithPath: binary),
            [
                "--config.file=\(config)", "--storage.tsdb.path=\(scratch.path("tsdb"))",
                "--web.listen-address=127.0.0.1:\(port)", "--log.level=warn",
            ],
            in: scratch, name: "prometheus")
        let ready = await eventually(timeout: .seconds(30), every: .milliseconds(200)) {
            (try? await HTTP.request("GET", port: self.port, "/-/ready"))?.status == 200
        }
        guard ready else { throw ProcessFailure("prometheus did not get ready: \(child.stderr)") }
    }

    /// `data` of an API answer (`/api/v1/...`), which must have `status: success`.
    func api(_ path: String, _ query: [String: String] = [:]) async throws -> Any? {
        var components = URLComponents()
        components.path = path
        components.queryItems = query.map { URLQueryItem(name: $0.key, value: $0.value) }
        // URLComponents leaves '+' alone, which a query string reads as a space.
        let target = components.string!.replacingOccurrences(of: "+", with: "%2B")
        let answer = try await HTTP.request("GET", port: port, target)
        guard answer.status == 200, let json = answer.json, json["status"] as? String == "success" else {
            throw ProcessFailure("prometheus \(path) \(query): \(answer)")
        }
        return json["data"]
    }

    /// The instant vector `expression` evaluates to now, as label sets.
    func query(_ expression: String) async throws -> [[String: String]] {
        let data = try await api("/api/v1/query", ["query": expression]) as? [String: Any]
        let result = data?["result"] as? [[String: Any]] ?? []
        return result.map { $0["metric"] as? [String: String] ?? [:] }
    }

    /// Every rule of every group the shipped files define, as `/api/v1/rules` reports it.
    func rules() async throws -> [[String: Any]] {
        let data = try await api("/api/v1/rules") as? [String: Any]
        let groups = data?["groups"] as? [[String: Any]] ?? []
        return groups.flatMap { $0["rules"] as? [[String: Any]] ?? [] }
    }

    /// The active alerts: name and state (`pending` or `firing`) with their labels.
    func alerts() async throws -> [(name: String, state: String, labels: [String: String])] {
        let data = try await api("/api/v1/alerts") as? [String: Any]
        let alerts = data?["alerts"] as? [[String: Any]] ?? []
        return alerts.map { alert in
            let labels = alert["labels"] as? [String: String] ?? [:]
            return (labels["alertname"] ?? "", alert["state"] as? String ?? "", labels)
        }
    }
}
