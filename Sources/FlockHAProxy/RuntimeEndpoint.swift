import Foundation

/// Where HAProxy's runtime API (`stats socket … level admin`) listens.
///
/// HAProxy offers the same API on a unix socket (the usual, permission-protected choice) and on
/// TCP (for a balancer on another host or in another network namespace), so both are supported.
public enum RuntimeEndpoint: Sendable, Hashable, CustomStringConvertible {
    case unix(path: String)
    case tcp(host: String, port: Int)

    /// Parses what an operator types: `/run/haproxy/admin.sock`, `unix:/path`, `tcp:host:port`,
    /// `host:port` or `[v6addr]:port`. A value with a `/` is a path.
    public init(parsing text: String) throws(HAProxyError) {
        let value = text.trimmingCharacters(in: .whitespaces)
        if value.hasPrefix("unix:") {
            self = try .unixPath(String(value.dropFirst(5)))
        } else if value.hasPrefix("tcp:") {
            self = try .tcpAddress(String(value.dropFirst(4)))
        } else if value.contains("/") {
            self = try .unixPath(value)
        } else {
            self = try .tcpAddress(value)
        }
    }

    private static func unixPath(_ path: String) throws(HAProxyError) -> RuntimeEndpoint {
        guard !path.isEmpty else { throw .invalidArgument("empty unix socket path") }
        // sockaddr_un holds 108 bytes including the terminating NUL.
        guard path.utf8.count < 108 else {
            throw .invalidArgument("unix socket path is longer than 107 bytes: \(path)")
        }
        guard !path.utf8.contains(0) else { throw .invalidArgument("unix socket path contains a NUL byte") }
        return .unix(path: path)
    }

    private static func tcpAddress(_ text: String) throws(HAProxyError) -> RuntimeEndpoint {
        guard let (host, port) = HostPort.split(text) else {
            throw .invalidArgument(
                "'\(text)' is neither a socket path nor HOST:PORT (e.g. /run/haproxy/admin.sock or 127.0.0.1:9999)")
        }
        return .tcp(host: host, port: port)
    }

    public var description: String {
        switch self {
        case .unix(let path): "unix:\(path)"
        case .tcp(let host, let port): host.contains(":") ? "tcp:[\(host)]:\(port)" : "tcp:\(host):\(port)"
        }
    }

    /// How this endpoint is written in haproxy.cfg, for hints.
    var configHint: String {
        switch self {
        case .unix(let path): path
        case .tcp(let host, let port): host.contains(":") ? "ipv6@[\(host)]:\(port)" : "ipv4@\(host):\(port)"
        }
    }
}

/// `HOST:PORT` splitting shared by endpoints, server addresses and `flockctl lb`.
public enum HostPort {
    /// Splits `host:port` or `[v6]:port`; `nil` unless the port is 1…65535 and the host non-empty.
    public static func split(_ text: String) -> (host: String, port: Int)? {
        let host: Substring
        let portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { return nil }
            host = text[text.index(after: text.startIndex)..<close]
            let rest = text[text.index(after: close)...]
            guard rest.hasPrefix(":") else { return nil }
            portText = rest.dropFirst()
        } else {
            guard let colon = text.lastIndex(of: ":") else { return nil }
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
            if host.contains(":") { return nil }  // a bare IPv6 address must be bracketed
        }
        guard !host.isEmpty, portText.allSatisfy(\.isASCII), let port = Int(portText), (1...65535).contains(port) else {
            return nil
        }
        return (String(host), port)
    }
}
