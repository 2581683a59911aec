/// One parsed HTTP/1.x request head. Parsing is strict: anything that is not a well-formed
/// request line and header block is a `.bad`, which the connection answers with 400 and closes,
/// because after garbage the byte stream can no longer be trusted to be framed.
struct HTTPRequest {
    var method: String
    var target: String
    var minorVersion: Int
    var headers: [(name: String, value: String)]

    /// The path without a query string.
    var path: Substring { target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first ?? "" }

    func header(_ name: String) -> String? {
        headers.last(where: { $0.name == name })?.value
    }

    /// HTTP/1.1 defaults to keep-alive and HTTP/1.0 to close; a Connection header overrides.
    var wantsKeepAlive: Bool {
        let tokens = (header("connection") ?? "").lowercased().split(separator: ",").map {
            $0.trimmingSpaces()
        }
        if tokens.contains("close") { return false }
        return minorVersion >= 1 || tokens.contains("keep-alive")
    }

    enum ParseResult {
        case request(HTTPRequest)
        case bad(status: Int, reason: String)
    }

    /// Parses the bytes before the blank line (without it).
    static func parse(head: ArraySlice<UInt8>) -> ParseResult {
        var lines = split(lines: head)
        guard !lines.isEmpty else { return .bad(status: 400, reason: "empty request") }
        let requestLine = lines.removeFirst()
        let parts = requestLine.split(separator: 0x20, omittingEmptySubsequences: false)
        guard parts.count == 3 else { return .bad(status: 400, reason: "malformed request line") }
        guard !parts[0].isEmpty, parts[0].allSatisfy(isTokenByte) else {
            return .bad(status: 400, reason: "malformed method")
        }
        guard parts[1].first == UInt8(ascii: "/"), parts[1].allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
            return .bad(status: 400, reason: "malformed target")
        }
        let version = Array(parts[2])
        guard version.count == 8, version.starts(with: Array("HTTP/".utf8)), version[6] == UInt8(ascii: "."),
            isDigit(version[5]), isDigit(version[7])
        else { return .bad(status: 400, reason: "malformed version") }
        guard version[5] == UInt8(ascii: "1") else { return .bad(status: 505, reason: "only HTTP/1.x is supported") }

        var headers: [(name: String, value: String)] = []
        for line in lines {
            guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else {
                return .bad(status: 400, reason: "malformed header line")
            }
            let name = line[line.startIndex..<colon]
            guard !name.isEmpty, name.allSatisfy(isTokenByte) else {
                return .bad(status: 400, reason: "malformed header name")
            }
            let value = line[(colon + 1)...]
            guard value.allSatisfy({ $0 == 0x09 || ($0 >= 0x20 && $0 != 0x7F) }) else {
                return .bad(status: 400, reason: "control character in header value")
            }
            headers.append(
                (
                    name: String(decoding: name, as: UTF8.self).lowercased(),
                    value: String(decoding: value, as: UTF8.self).trimmingSpaces()
                ))
        }
        return .request(
            HTTPRequest(
                method: String(decoding: parts[0], as: UTF8.self),
                target: String(decoding: parts[1], as: UTF8.self),
                minorVersion: Int(version[7] - UInt8(ascii: "0")),
                headers: headers))
    }

    /// Splits on CRLF; a bare LF is tolerated as a line end, a bare CR is kept and rejected later.
    private static func split(lines head: ArraySlice<UInt8>) -> [ArraySlice<UInt8>] {
        var lines: [ArraySlice<UInt8>] = []
        var start = head.startIndex
        var i = head.startIndex
        while i < head.endIndex {
            if head[i] == 0x0A {
                var end = i
                if end > start && head[end - 1] == 0x0D { end -= 1 }
                lines.append(head[start..<end])
                start = i + 1
            }
            i += 1
        }
        if start < head.endIndex { lines.append(head[start..<head.endIndex]) }
        return lines
    }

    private static func isDigit(_ c: UInt8) -> Bool { c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") }

    /// RFC 9110 `tchar`.
    private static func isTokenByte(_ c: UInt8) -> Bool {
        switch c {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        default:
            return Array("!#$%&'*+-.^_`|~".utf8).contains(c)
        }
    }
}

extension StringProtocol {
    /// Trims spaces and tabs, the only whitespace HTTP allows around values.
    func trimmingSpaces() -> String {
        var scalars = Substring(self).unicodeScalars[...]
        while let first = scalars.first, first == " " || first == "\t" { scalars.removeFirst() }
        while let last = scalars.last, last == " " || last == "\t" { scalars.removeLast() }
        return String(String.UnicodeScalarView(scalars))
    }
}
