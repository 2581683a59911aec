/// Checks for every word Flock puts on a runtime API command line.
///
/// The runtime API reads a command as space-separated words and treats `;` and newlines as
/// command separators, so a name such as `app;del server x/y` would run a second command.
/// Values are therefore checked against what HAProxy itself accepts before any command is built.
enum RuntimeNames {
    /// Proxy and server names: HAProxy allows letters, digits, `-`, `_`, `.` and `:`.
    static func checkName(_ name: String, kind: String) throws(HAProxyError) {
        guard !name.isEmpty else { throw .invalidArgument("the \(kind) name is empty") }
        guard name.utf8.count <= 255 else { throw .invalidArgument("the \(kind) name is longer than 255 bytes") }
        let allowed = name.unicodeScalars.allSatisfy { scalar in
            scalar.isASCII
                && (("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar) || ("0"..."9").contains(scalar)
                    || "-_.:".unicodeScalars.contains(scalar))
        }
        guard allowed else {
            throw .invalidArgument(
                "the \(kind) name '\(HAProxyError.firstLine(of: name, limit: 60))' may only hold letters, digits, '-', '_', '.' and ':'"
            )
        }
    }

    /// A server address: an IPv4 or IPv6 literal or a host name, nothing that could split a command.
    static func checkAddress(_ address: String) throws(HAProxyError) {
        guard !address.isEmpty, address.utf8.count <= 253 else {
            throw .invalidArgument("the server address must be 1 to 253 characters")
        }
        let allowed = address.unicodeScalars.allSatisfy { scalar in
            scalar.isASCII
                && (("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar) || ("0"..."9").contains(scalar)
                    || "-.:".unicodeScalars.contains(scalar))
        }
        guard allowed else {
            throw .invalidArgument(
                "the server address '\(HAProxyError.firstLine(of: address, limit: 60))' is not an IP address or host name"
            )
        }
    }

    static func checkPort(_ port: Int) throws(HAProxyError) {
        guard (1...65535).contains(port) else { throw .invalidArgument("port \(port) is outside 1…65535") }
    }

    /// `addr:port` as the runtime API reads it; IPv6 literals are written bare, as HAProxy expects.
    static func socketAddress(_ address: String, _ port: Int) -> String { "\(address):\(port)" }
}
