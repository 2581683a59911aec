/// Why a Prometheus endpoint could not be read: a bad status, a page too large, or a line that
/// does not parse. Every message names the URL (and the line), so that the error sample a policy
/// sees tells an operator which exporter to look at.
public struct PrometheusError: Error, Sendable, Hashable, CustomStringConvertible {
    public let message: String

    public var description: String { message }

    /// A line of the page is not in the text format.
    static func malformed(_ source: String, line: Int, _ reason: String) -> PrometheusError {
        PrometheusError(message: "GET \(source): line \(line) is not Prometheus text: \(reason)")
    }

    /// The endpoint answered, but not with a page.
    static func status(_ source: String, _ status: Int) -> PrometheusError {
        PrometheusError(message: "GET \(source) answered HTTP status \(status)")
    }

    /// A runaway page must not exhaust memory.
    static func tooLarge(_ source: String, limit: Int) -> PrometheusError {
        PrometheusError(message: "GET \(source) answered more than \(limit) bytes; giving up")
    }
}
