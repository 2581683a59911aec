import FlockDaemon
import FlockHAProxy
import FlockPolicy

/// The runtime API settings that `kind: haproxy` balancers and metrics sources share: `socket`
/// (a path, taken from the config's directory when relative, or `HOST:PORT`) and `timeout`.
enum HAProxyRuntimeSettings {
    /// Checks `socket` and `timeout` when they are set.
    static func validate(_ settings: DriverSettings) -> [PolicyDiagnostic] {
        var problems: [PolicyDiagnostic] = []
        if settings["socket"] != nil, case .failure(let list) = endpoint(settings) { problems += list.diagnostics }
        if case .failure(let list) = settings.duration("timeout") { problems += list.diagnostics }
        return problems
    }

    /// A runtime API client for the settings' socket, after `validate` found nothing.
    static func client(_ settings: DriverSettings) throws -> RuntimeClient {
        let timeout = (try? settings.duration("timeout").get()) ?? nil
        return RuntimeClient(endpoint: try endpoint(settings).get(), timeout: timeout ?? RuntimeClient.defaultTimeout)
    }

    private static func endpoint(_ settings: DriverSettings) -> Result<RuntimeEndpoint, DiagnosticList> {
        guard let text = settings["socket"] else {
            return .failure(DiagnosticList([settings.diagnostic("socket", "is required")]))
        }
        let isPath = text.contains("/") && !text.hasPrefix("unix:") && !text.hasPrefix("tcp:")
        do {
            return .success(try RuntimeEndpoint(parsing: isPath ? settings.path("socket") ?? text : text))
        } catch {
            return .failure(
                DiagnosticList([
                    settings.diagnostic(
                        "socket", "\(error)",
                        hint:
                            "HAProxy's 'stats socket … level admin': a path such as /run/haproxy/admin.sock, or HOST:PORT"
                    )
                ]))
        }
    }
}
