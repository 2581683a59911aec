import Foundation

/// The bearer token that guards the mutating API endpoints.
public enum ApiToken {
    /// Shorter tokens are rejected in the config: they could be guessed.
    public static let minimumLength = 16

    /// Compares a presented token with the configured one in time that does not depend on
    /// where they first differ, so response timing does not reveal the token byte by byte.
    public static func matches(_ presented: String, _ expected: String) -> Bool {
        let a = Array(presented.utf8), b = Array(expected.utf8)
        var difference = UInt8(truncatingIfNeeded: a.count ^ b.count) | (a.count == b.count ? 0 : 1)
        for i in 0..<max(a.count, b.count) {
            difference |= (i < a.count ? a[i] : 0) ^ (i < b.count ? b[i] : 0)
        }
        return difference == 0
    }

    /// The token of an `Authorization: Bearer <token>` header, or `nil` for any other form.
    public static func bearer(_ header: String?) -> String? {
        guard let header else { return nil }
        let parts = header.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return nil }
        let token = parts[1].trimmingCharacters(in: .whitespaces)
        return token.isEmpty ? nil : token
    }
}
