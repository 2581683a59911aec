/// One series value from a Prometheus text exposition (`name{label="value",…} 1.5 [timestamp]`).
public struct PrometheusSample: Sendable, Hashable {
    public var name: String
    public var labels: [String: String]
    public var value: Double
    /// Milliseconds since the epoch, when the exporter gave one.
    public var timestampMs: Int64?
}

/// A parser for the Prometheus text format (version 0.0.4), as HAProxy's exporter, Envoy and
/// Traefik serve it. Comments and blank lines are skipped; any other line that does not parse is
/// an error naming its line, because a half-read page could silently drop the series a policy uses.
public enum PrometheusText {
    public static func parse(_ text: String, source: String = "metrics") throws(PrometheusError) -> [PrometheusSample] {
        var samples: [PrometheusSample] = []
        for (offset, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = rawLine.hasSuffix("\r") ? rawLine.dropLast() : rawLine
            let trimmed = line.drop { $0 == " " || $0 == "\t" }
            if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
            samples.append(try parseLine(Array(trimmed.utf8), number: offset + 1, source: source))
        }
        return samples
    }

    private static func parseLine(
        _ bytes: [UInt8], number: Int, source: String
    ) throws(PrometheusError) -> PrometheusSample {
        func fail(_ reason: String) -> PrometheusError { .malformed(source, line: number, reason) }
        var index = 0
        func isNameByte(_ byte: UInt8, first: Bool) -> Bool {
            (byte >= 97 && byte <= 122) || (byte >= 65 && byte <= 90) || byte == 95 || byte == 58
                || (!first && byte >= 48 && byte <= 57)
        }
        while index < bytes.count, isNameByte(bytes[index], first: index == 0) { index += 1 }
        guard index > 0 else { throw fail("no metric name") }
        let name = String(decoding: bytes[0..<index], as: UTF8.self)
        var labels: [String: String] = [:]
        if index < bytes.count, bytes[index] == UInt8(ascii: "{") {
            index += 1
            while true {
                while index < bytes.count, bytes[index] == UInt8(ascii: " ") { index += 1 }
                guard index < bytes.count else { throw fail("unterminated label set") }
                if bytes[index] == UInt8(ascii: "}") {
                    index += 1
                    break
                }
                let start = index
                while index < bytes.count, isNameByte(bytes[index], first: index == start), bytes[index] != 58 {
                    index += 1
                }
                guard index > start else { throw fail("bad label name") }
                let label = String(decoding: bytes[start..<index], as: UTF8.self)
                guard index + 1 < bytes.count, bytes[index] == UInt8(ascii: "="), bytes[index + 1] == UInt8(ascii: "\"")
                else { throw fail("label \(label) has no quoted value") }
                index += 2
                var value: [UInt8] = []
                var closed = false
                while index < bytes.count {
                    let byte = bytes[index]
                    index += 1
                    if byte == UInt8(ascii: "\"") {
                        closed = true
                        break
                    }
                    if byte == UInt8(ascii: "\\") {
                        guard index < bytes.count else { break }
                        let escaped = bytes[index]
                        index += 1
                        value.append(escaped == UInt8(ascii: "n") ? 10 : escaped)
                    } else {
                        value.append(byte)
                    }
                }
                guard closed else { throw fail("unterminated value of label \(label)") }
                labels[label] = String(decoding: value, as: UTF8.self)
                while index < bytes.count, bytes[index] == UInt8(ascii: " ") { index += 1 }
                if index < bytes.count, bytes[index] == UInt8(ascii: ",") { index += 1 }
            }
        }
        let rest = String(decoding: bytes[index...], as: UTF8.self).split(
            separator: " ", omittingEmptySubsequences: true)
        guard rest.count == 1 || rest.count == 2 else { throw fail("expected a value and an optional timestamp") }
        guard let value = parseValue(rest[0]) else { throw fail("'\(rest[0].prefix(40))' is not a number") }
        var timestamp: Int64?
        if rest.count == 2 {
            guard let parsed = Int64(rest[1]) else { throw fail("'\(rest[1].prefix(40))' is not a timestamp") }
            timestamp = parsed
        }
        return PrometheusSample(name: name, labels: labels, value: value, timestampMs: timestamp)
    }

    private static func parseValue(_ text: Substring) -> Double? {
        switch text {
        case "+Inf": .infinity
        case "-Inf": -.infinity
        case "NaN": .nan
        default: Double(text)
        }
    }
}
