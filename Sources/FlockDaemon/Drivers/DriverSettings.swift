import FlockCore
import FlockPolicy
import Foundation

/// One config section of a driver (a hypervisor, a balancer, a pool's metrics source) with where
/// each value was written, so that a factory reports its own errors at file:line:column without
/// knowing YAML, and the config parser needs no edit for a new kind.
public struct DriverSettings: Sendable {
    /// One `key: value` of the section: a scalar, or a nested mapping (e.g. a Prometheus source's
    /// `queries:`).
    public struct Setting: Sendable {
        public indirect enum Value: Sendable {
            case scalar(String)
            case mapping(DriverSettings)
        }
        public var value: Value
        public var location: DaemonConfig.SourceLocation

        public init(_ value: Value, location: DaemonConfig.SourceLocation) {
            self.value = value
            self.location = location
        }

        /// The text of a scalar; nil for a mapping.
        public var text: String? {
            if case .scalar(let text) = value { return text }
            return nil
        }
    }

    /// The section's path in the config, e.g. `hypervisors.local` or `pools.web.metrics`.
    public var path: String
    public var values: [String: Setting]
    /// Where the section itself is, for "missing key" errors.
    public var location: DaemonConfig.SourceLocation

    public init(path: String, values: [String: Setting], location: DaemonConfig.SourceLocation) {
        self.path = path
        self.values = values
        self.location = location
    }

    /// The text of scalar `key`, if set.
    public subscript(_ key: String) -> String? { values[key]?.text }

    /// The nested mapping at `key`, if it is one.
    public func section(_ key: String) -> DriverSettings? {
        if case .mapping(let nested)? = values[key]?.value { return nested }
        return nil
    }

    /// A located error at `key` (at the section when the key is absent).
    public func diagnostic(_ key: String, _ message: String, hint: String? = nil) -> PolicyDiagnostic {
        (values[key]?.location ?? location).diagnostic("\(path).\(key): \(message)", hint: hint)
    }

    /// A path setting, taken from the config file's directory when relative, as every path in
    /// `flockd.yaml` is.
    public func path(_ key: String) -> String? {
        guard let text = self[key] else { return nil }
        let directory = (location.file as NSString).deletingLastPathComponent
        return text.hasPrefix("/") || directory.isEmpty ? text : "\(directory)/\(text)"
    }

    /// Errors for the keys of this section not in `allowed`, with a suggestion for a typo. The
    /// parser checks a section's own keys against the factory's `settingKeys`; factories call this
    /// for the nested mappings they read.
    public func unknownKeys(allowed: [String]) -> [PolicyDiagnostic] {
        values.keys.sorted().filter { !allowed.contains($0) }.map { key in
            diagnostic(
                key, "unknown key",
                hint: suggestion(for: key, among: allowed).map { "did you mean '\($0)'?" }
                    ?? "allowed here: \(allowed.joined(separator: ", "))")
        }
    }

    /// Parses `key` as a Flock duration (`500ms`, `2s`, `1m`); `.failure` carries the located
    /// error. Zero (`0s`) is refused unless `allowZero`, for settings where zero means "never".
    public func duration(_ key: String, allowZero: Bool = false) -> Result<Duration?, DiagnosticList> {
        guard let text = self[key] else { return .success(nil) }
        guard let value = Duration(flockText: text), value > .zero || (allowZero && value == .zero) else {
            return .failure(
                DiagnosticList([
                    diagnostic(
                        key, "must be a duration\(allowZero ? "" : " longer than zero"); got '\(text)'",
                        hint: "a whole number and a unit: 500ms, 2s, 1m or 1h")
                ]))
        }
        return .success(value)
    }

    /// Parses `key` as `true` or `false`; `.failure` carries the located error.
    public func bool(_ key: String) -> Result<Bool?, DiagnosticList> {
        switch self[key] {
        case nil: return .success(nil)
        case "true": return .success(true)
        case "false": return .success(false)
        case let text?: return .failure(DiagnosticList([diagnostic(key, "must be true or false; got '\(text)'")]))
        }
    }
}

/// Located errors as an `Error`, for `Result`s.
public struct DiagnosticList: Error, Sendable {
    public var diagnostics: [PolicyDiagnostic]
    public init(_ diagnostics: [PolicyDiagnostic]) { self.diagnostics = diagnostics }
}
