import FlockCore
import FlockPolicy
import Logging

/// Makes the hypervisor driver for one `kind` of the config's `hypervisors:` section.
///
/// This is the seam between the daemon and its drivers: `FlockDaemon` knows no hypervisor, the
/// `flockd` executable hands it one factory per kind it was built with (QEMU today, Xen later),
/// and tests hand it in-memory ones. A kind no factory provides is a located config error.
public protocol HypervisorFactory: Sendable {
    /// The `kind:` value this factory answers to, e.g. `qemu`.
    var kind: String { get }
    /// The settings this kind accepts besides `kind`; any other key is a located error.
    var settingKeys: [String] { get }
    /// Checks the settings without side effects (`flockd --check-config` calls it too) and
    /// returns every problem, located with `settings.diagnostic(…)`.
    func validate(_ settings: HypervisorSettings) -> [PolicyDiagnostic]
    /// Opens the driver at start-up, after `validate` found nothing. May take over VMs that a
    /// previous daemon left running.
    func open(_ settings: HypervisorSettings, logger: Logger) async throws -> any Hypervisor
}

/// A hypervisor's scalar settings with where each was written, so that a factory reports its
/// own errors at file:line:column without knowing YAML.
public struct HypervisorSettings: Sendable {
    /// One `key: value` of the section.
    public struct Setting: Sendable, Hashable {
        public var text: String
        public var location: DaemonConfig.SourceLocation
    }

    /// The hypervisor's name in the config (the key under `hypervisors:`).
    public var name: String
    public var values: [String: Setting]
    /// Where the section itself is, for "missing key" errors.
    public var location: DaemonConfig.SourceLocation

    public init(name: String, values: [String: Setting], location: DaemonConfig.SourceLocation) {
        self.name = name
        self.values = values
        self.location = location
    }

    /// The text of `key`, if set.
    public subscript(_ key: String) -> String? { values[key]?.text }

    /// A located error at `key` (at the section when the key is absent).
    public func diagnostic(_ key: String, _ message: String, hint: String? = nil) -> PolicyDiagnostic {
        (values[key]?.location ?? location).diagnostic("hypervisors.\(name).\(key): \(message)", hint: hint)
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
}

/// Located errors as an `Error`, for `Result`s.
public struct DiagnosticList: Error, Sendable {
    public var diagnostics: [PolicyDiagnostic]
    public init(_ diagnostics: [PolicyDiagnostic]) { self.diagnostics = diagnostics }
}
