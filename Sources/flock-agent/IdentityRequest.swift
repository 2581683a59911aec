import FlockGuestKit

/// A validated `identity` message. Everything is checked before anything is applied, so a bad
/// request changes nothing in the guest ("nothing is acked unless everything applied", and a
/// request we can already see is wrong should not half-apply either).
struct IdentityRequest {
    struct Network {
        var mac: String
        var address: String
        var prefix: Int
        var gateway: String
    }

    static let minimumEntropyBytes = 256

    var cloneID: String
    var generation: Int64
    var hostname: String
    var entropy: [UInt8]
    var timeUnixNs: Int64
    var network: Network?

    /// Returns the request or a message naming the first field that is wrong.
    static func validate(_ message: JSONValue) -> Result<IdentityRequest, ValidationError> {
        guard let cloneID = message["clone_id"]?.stringValue, !cloneID.isEmpty, cloneID.utf8.count <= 128 else {
            return .failure(ValidationError("identity needs a non-empty string clone_id (at most 128 bytes)"))
        }
        guard let generation = message["generation"]?.int64Value, generation >= 0 else {
            return .failure(ValidationError("identity needs a non-negative integer generation"))
        }
        guard let hostname = message["hostname"]?.stringValue, isValidHostname(hostname) else {
            return .failure(ValidationError("identity needs a hostname of 1-64 letters, digits, '-' or '.'"))
        }
        guard let encoded = message["entropy"]?.stringValue, let entropy = Base64.decode(encoded) else {
            return .failure(ValidationError("identity needs base64 entropy"))
        }
        guard entropy.count >= minimumEntropyBytes else {
            return .failure(
                ValidationError(
                    "identity entropy has \(entropy.count) bytes; at least \(minimumEntropyBytes) are needed"))
        }
        guard let time = message["time_unix_ns"]?.int64Value, time > 0 else {
            return .failure(ValidationError("identity needs a positive integer time_unix_ns"))
        }
        var network: Network?
        if let value = message["network"], !value.isNull {
            switch parseNetwork(value) {
            case .success(let parsed): network = parsed
            case .failure(let error): return .failure(error)
            }
        }
        return .success(
            IdentityRequest(
                cloneID: cloneID, generation: generation, hostname: hostname, entropy: entropy, timeUnixNs: time,
                network: network))
    }

    private static func parseNetwork(_ value: JSONValue) -> Result<Network, ValidationError> {
        guard let mac = value["mac"]?.stringValue, NetworkAddress.mac(mac) != nil else {
            return .failure(ValidationError("network.mac must look like 52:54:00:12:34:56"))
        }
        guard let address = value["address"]?.stringValue, NetworkAddress.ipv4(address) != nil else {
            return .failure(ValidationError("network.address must be a dotted IPv4 address"))
        }
        guard let prefix = value["prefix"]?.int64Value, (1...32).contains(prefix) else {
            return .failure(ValidationError("network.prefix must be an integer from 1 to 32"))
        }
        guard let gateway = value["gateway"]?.stringValue, NetworkAddress.ipv4(gateway) != nil else {
            return .failure(ValidationError("network.gateway must be a dotted IPv4 address"))
        }
        return .success(Network(mac: mac.lowercased(), address: address, prefix: Int(prefix), gateway: gateway))
    }

    static func isValidHostname(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard (1...64).contains(bytes.count), bytes.first != UInt8(ascii: "-"), bytes.first != UInt8(ascii: ".") else {
            return false
        }
        return bytes.allSatisfy { isAlphanumeric($0) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: ".") }
    }

    private static func isDigit(_ c: UInt8) -> Bool { c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") }

    private static func isAlphanumeric(_ c: UInt8) -> Bool {
        isDigit(c) || (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z"))
            || (c >= UInt8(ascii: "A") && c <= UInt8(ascii: "Z"))
    }
}

/// Why an identity request was refused; the message goes back to the host verbatim.
struct ValidationError: Error {
    let message: String
    init(_ message: String) { self.message = message }
}
