import Crypto
import FlockCore
import Foundation
import Yams

/// A policy together with the exact text it came from, as stored and versioned.
///
/// Flock stores the source text, not a re-encoding, so `policy show` and `policy diff` print
/// what the operator wrote, comments included.
public struct PolicyDocument: Sendable {
    /// Where the text came from, for diagnostics.
    public var file: String
    public var source: String
    public var policy: Policy

    /// SHA-256 of the source, hex; identical text means an identical policy version.
    public var checksum: String { Self.checksum(of: source) }

    public static func checksum(of source: String) -> String {
        SHA256.hash(data: Data(source.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    /// Parses `source`; see `PolicyParser.parse`.
    public init(source: String, file: String) throws(PolicyErrors) {
        self.file = file
        self.source = source
        self.policy = try PolicyParser.parse(source, file: file)
    }

    /// Reads and validates several policy files as one change.
    ///
    /// Every file is read and parsed even after one fails, and pool names must be unique across
    /// the set, so one run reports every problem.
    public static func load(files: [String]) throws(PolicyErrors) -> [PolicyDocument] {
        var documents: [PolicyDocument] = []
        var diagnostics: [PolicyDiagnostic] = []
        var pools: [String: String] = [:]
        for file in files {
            let source: String
            switch readText(file) {
            case .success(let text): source = text
            case .failure(let problem):
                diagnostics.append(PolicyDiagnostic(file: file, line: 1, column: 1, message: problem.message))
                continue
            }
            do {
                let document = try PolicyDocument(source: source, file: file)
                if let other = pools[document.policy.pool] {
                    let mark = (try? Yams.compose(yaml: source))?["pool"]?.mark
                    diagnostics.append(
                        PolicyDiagnostic(
                            file: file, line: mark?.line ?? 1, column: mark?.column ?? 1,
                            message: "pool '\(document.policy.pool)' is also defined in \(other)",
                            hint: "pool names are unique; keep one file per pool"
                        )
                    )
                }
                pools[document.policy.pool] = file
                documents.append(document)
            } catch {
                diagnostics += error.diagnostics
            }
        }
        guard diagnostics.isEmpty else { throw PolicyErrors(diagnostics) }
        return documents
    }
}

/// Why a file could not be read, in words an operator can act on.
public struct FileProblem: Error, Sendable {
    public var message: String
}

/// Reads a UTF-8 text file, explaining a missing file, a directory or undecodable bytes plainly
/// instead of with Foundation's generic error codes.
public func readText(_ path: String) -> Result<String, FileProblem> {
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
        return .failure(FileProblem(message: "cannot read the file: it does not exist"))
    }
    if isDirectory.boolValue { return .failure(FileProblem(message: "cannot read the file: it is a directory")) }
    guard let data = FileManager.default.contents(atPath: path) else {
        return .failure(FileProblem(message: "cannot read the file: permission denied or I/O error"))
    }
    guard let text = String(data: data, encoding: .utf8) else {
        return .failure(FileProblem(message: "cannot read the file: it is not UTF-8 text"))
    }
    return .success(text)
}
