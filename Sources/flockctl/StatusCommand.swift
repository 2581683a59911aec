import ArgumentParser
import FlockCLI
import FlockCore
import FlockStore
import Foundation

/// `flockctl status`: every pool at a glance, from the store the daemon writes.
///
/// It reads the store rather than the daemon's API so that it works when flockd is down (which
/// is when an operator most needs it) and needs no token. `--json` prints the same keys as
/// flockd's `/v1/pools`.
struct Status: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show each pool: serving, warming, standby and draining counts, the last decision and why.")
    @OptionGroup var store: StoreOptions
    @Flag(help: "Print JSON ({\"pools\": [...]}) instead of a table.") var json = false

    func run() async throws {
        let statuses = try store.openExisting()?.statuses() ?? []
        if json {
            print(try jsonText(["pools": statuses]))
            return
        }
        guard !statuses.isEmpty else {
            print("no pools in \(store.path); 'flockctl policy apply FILE' adds one")
            return
        }
        var rows = [
            [
                "POOL", "STATE", "SERVING", "WARMING", "STANDBY", "DRAINING", "FAILED", "MANUAL", "POLICY", "FORECAST",
                "LAST DECISION",
            ]
        ]
        for pool in statuses {
            let decision = pool.lastDecision.map {
                "\(clockTime($0.time)) \($0.action.rawValue) \($0.from)→\($0.to)\($0.dryRun ? " (dry run)" : "")"
            }
            rows.append([
                pool.name, pool.paused ? "paused" : "active", "\(pool.serving)", "\(pool.warming)", "\(pool.standby)",
                "\(pool.draining)",
                "\(pool.failed)", pool.manualDesired.map { "\($0)" } ?? "-", pool.policyVersion.map { "v\($0)" } ?? "-",
                pool.lastDecision?.forecast.map(forecastCell) ?? "-", decision ?? "none yet",
            ])
        }
        print(table(rows), terminator: "")
        for pool in statuses {
            if let reason = pool.lastDecision?.reason { print("\(pool.name): \(reason)") }
        }
    }
}

/// The last forecast in a few characters: the demand `lead` ahead and the count it implies
/// (`412 in 2m → 5`), or `abstains`; the decision's reason line names the metric and says more.
private func forecastCell(_ forecast: ForecastNote) -> String {
    guard let value = forecast.value, let wants = forecast.wants else { return "abstains" }
    let lead = Duration.seconds(Int64(forecast.leadSeconds.rounded())).flockText
    return "\(String(format: "%.4g", value)) in \(lead) → \(wants)"
}

/// JSON as the daemon's API writes it: sorted keys, ISO 8601 times.
func jsonText(_ value: some Encodable) throws -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    encoder.dateEncodingStrategy = .iso8601
    return String(decoding: try encoder.encode(value), as: UTF8.self)
}

/// A local wall-clock time with the date, short enough for a table column.
func clockTime(_ date: Date) -> String {
    date.formatted(
        .iso8601.year().month().day().dateSeparator(.dash).time(includingFractionalSeconds: false).timeSeparator(.colon)
    )
}
