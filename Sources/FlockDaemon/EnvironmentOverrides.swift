import Logging

/// Environment variables that override `flockd.yaml`, so that one config file serves several
/// machines and a secret can come from the service manager instead of a file.
///
/// | variable | overrides |
/// |---|---|
/// | `FLOCKD_LISTEN` | `listen` |
/// | `FLOCKD_API_TOKEN` | `api_token` / `api_token_file` |
/// | `FLOCKD_LOG_LEVEL` | `log.level` |
/// | `FLOCKD_LOG_FORMAT` | `log.format` |
/// | `FLOCK_DB` | `store.path` (the same variable `flockctl` reads) |
///
/// An empty variable counts as unset. A bad value is an error that names the variable.
public enum EnvironmentOverrides {
    public static let variables = [
        "FLOCKD_LISTEN", "FLOCKD_API_TOKEN", "FLOCKD_LOG_LEVEL", "FLOCKD_LOG_FORMAT", "FLOCK_DB",
    ]

    public static func apply(_ environment: [String: String], to config: inout DaemonConfig) throws(DaemonError) {
        func value(_ name: String) -> String? {
            guard let text = environment[name], !text.isEmpty else { return nil }
            return text
        }
        if let text = value("FLOCKD_LISTEN") {
            guard let address = ListenAddress(parsing: text) else {
                throw .environment("FLOCKD_LISTEN", "'\(text)' is not HOST:PORT (e.g. 127.0.0.1:9464)")
            }
            config.listen = address
        }
        if let token = value("FLOCKD_API_TOKEN") {
            guard token.count >= ApiToken.minimumLength, !token.contains(where: \.isWhitespace) else {
                throw .environment(
                    "FLOCKD_API_TOKEN",
                    "the API token must be at least \(ApiToken.minimumLength) characters without spaces (make one with: openssl rand -hex 24)"
                )
            }
            config.apiToken = token
        }
        if let text = value("FLOCKD_LOG_LEVEL") {
            guard let level = Logger.Level(rawValue: text) else {
                let levels = Logger.Level.allCases.map(\.rawValue).joined(separator: ", ")
                throw .environment("FLOCKD_LOG_LEVEL", "unknown level '\(text)' (one of: \(levels))")
            }
            config.log.level = level
        }
        if let text = value("FLOCKD_LOG_FORMAT") {
            guard let format = DaemonConfig.LogSettings.Format(rawValue: text) else {
                throw .environment("FLOCKD_LOG_FORMAT", "unknown format '\(text)' (one of: text, json)")
            }
            config.log.format = format
        }
        if let path = value("FLOCK_DB") {
            config.store.path = path
        }
    }
}
