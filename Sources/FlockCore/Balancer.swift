/// Puts servers into, and takes them out of, a load balancer's backend.
///
/// Implementations only ever change servers whose names Flock owns (`OwnedName`).
public protocol Balancer: Sendable {
    /// Adds a server, waits for its health check to pass, then lets it take traffic.
    /// Registering the same name at the same address again is a no-op; at another address it
    /// throws `FlockError.conflict`.
    func register(_ server: ServerRegistration) async throws

    /// Stops new traffic to a server and waits until its sessions and queue are empty, or until
    /// `timeout`. Returns which of the two happened.
    func drain(backend: String, server: String, timeout: Duration) async throws -> DrainOutcome

    /// Removes a drained server from the backend. Removing a server that is not there is a no-op.
    func remove(backend: String, server: String) async throws

    /// Every server in `backend`, Flock's and others', so that a restarted daemon can reconcile.
    func servers(backend: String) async throws -> [BalancerServer]

    /// Checks, before anything is registered, that `backend` exists and can take servers at run
    /// time. flockd calls it at start-up and before a reloaded policy moves a pool to another
    /// backend, so that a backend that cannot scale stops the change with a clear reason instead
    /// of failing every registration later. It must change nothing in the balancer.
    func check(backend: String) async throws -> BackendCheck
}

/// What a balancer's start-up check found out about a backend, for the log and `flockctl lb check`.
public struct BackendCheck: Sendable, Hashable {
    public var backend: String
    /// Servers in the backend now, Flock's and others'.
    public var servers: Int
    /// Facts particular to the balancer kind, e.g. HAProxy's balance algorithm under `algorithm`.
    public var details: [String: String]
    public init(backend: String, servers: Int, details: [String: String] = [:]) {
        self.backend = backend
        self.servers = servers
        self.details = details
    }
}

/// What the balancer needs to add one server.
public struct ServerRegistration: Sendable, Hashable {
    public var backend: String
    public var name: String
    public var address: String
    public var port: Int
    /// The pool's server settings (policy `balancer.server`), over the balancer's defaults.
    public var options: ServerOptions
    public init(backend: String, name: String, address: String, port: Int, options: ServerOptions = ServerOptions()) {
        self.backend = backend
        self.name = name
        self.address = address
        self.port = port
        self.options = options
    }
}

/// How a drain ended.
public enum DrainOutcome: Sendable, Hashable {
    /// Sessions and queue reached zero.
    case drained
    /// The timeout passed with sessions still open; the caller decides whether to remove anyway.
    case timedOut(sessions: Int)
}

/// A server as the balancer reports it.
public struct BalancerServer: Sendable, Hashable {
    public enum Status: String, Sendable, Hashable {
        case up, down, draining, maintenance
    }
    public var name: String
    public var address: String
    public var port: Int
    public var status: Status
    public var sessions: Int
    public init(name: String, address: String, port: Int, status: Status, sessions: Int = 0) {
        self.name = name
        self.address = address
        self.port = port
        self.status = status
        self.sessions = sessions
    }
}
