import FlockCLI
import FlockCore
import FlockPolicy
import Foundation

/// Reads recorded backend metrics for `flockctl simulate`.
///
/// The format is plain CSV: a header `time_s,<metric>,…` naming backend-level metrics from the
/// catalog, then one row per time, sorted. An empty cell is a missing value, which the engine
/// treats as missing data, never as zero.
enum MetricsCSV {
    static func load(file: String) throws -> Backtest.Series {
        switch readText(file) {
        case .success(let text): return try parse(text, file: file)
        case .failure(let problem): throw CLIFailure("\(file): error: \(problem.message)")
        }
    }

    static func parse(_ text: String, file: String) throws -> Backtest.Series {
        func fail(_ line: Int, _ message: String, hint: String? = nil) -> CLIFailure {
            CLIFailure("\(file):\(line): error: \(message)" + (hint.map { " (hint: \($0))" } ?? ""))
        }
        // Split on any line break: "\r\n" is one Character in Swift, so splitting on "\n" would miss it.
        let lines = text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).map {
            $0.trimmingCharacters(in: .whitespaces)
        }
        guard let header = lines.first, !header.isEmpty else { throw fail(1, "the metrics file is empty") }
        let names = header.split(separator: ",", omittingEmptySubsequences: false).map {
            $0.trimmingCharacters(in: .whitespaces)
        }
        guard names.first == "time_s" else {
            throw fail(1, "the first column must be 'time_s'; got '\(names.first ?? "")'")
        }
        var metrics: [MetricName] = []
        for name in names.dropFirst() {
            guard let metric = MetricName(rawValue: name) else {
                throw fail(
                    1, "unknown metric '\(name)'",
                    hint: "columns are backend metrics such as sessions, queue, session_rate, response_time_ms")
            }
            if let base = metric.perServerBase {
                throw fail(
                    1, "'\(name)' is derived by the simulation",
                    hint: "record the backend total '\(base.rawValue)' instead")
            }
            if metrics.contains(metric) { throw fail(1, "column '\(name)' appears twice") }
            metrics.append(metric)
        }
        guard !metrics.isEmpty else { throw fail(1, "no metric columns after time_s") }

        var rows: [(time: Double, values: [Double?])] = []
        for (index, line) in lines.enumerated().dropFirst() where !line.isEmpty && !line.hasPrefix("#") {
            let number = index + 1
            let cells = line.split(separator: ",", omittingEmptySubsequences: false).map {
                $0.trimmingCharacters(in: .whitespaces)
            }
            guard cells.count == names.count else {
                throw fail(number, "expected \(names.count) values, got \(cells.count)")
            }
            guard let time = Double(cells[0]), time.isFinite, time >= 0 else {
                throw fail(number, "time_s must be a number of seconds ≥ 0; got '\(cells[0])'")
            }
            if let previous = rows.last?.time, time <= previous {
                throw fail(
                    number, "time_s \(cells[0]) is not after the previous row's \(previous)",
                    hint: "sort the rows by time_s")
            }
            var values: [Double?] = []
            for (cell, name) in zip(cells.dropFirst(), names.dropFirst()) {
                if cell.isEmpty {
                    values.append(nil)
                } else if let value = Double(cell), value.isFinite {
                    values.append(value)
                } else {
                    throw fail(number, "\(name) must be a number or empty; got '\(cell)'")
                }
            }
            rows.append((time, values))
        }
        guard !rows.isEmpty else { throw fail(2, "the metrics file has a header but no rows") }
        return Backtest.Series(metrics: metrics, rows: rows)
    }
}
