import FlockSystem
import FlockTestSupport
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `flockctl host serve` on pipes, without ssh: bad lines get error answers, never a crash, and
/// end of input ends the session with status 0.
extension HostsTests {
    @Test func serveAnswersBadLinesAndEndsOnEOF() async throws {
        let root = try tmpfsScratch("serve")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let log = "\(root)-stderr.log"
        defer { try? FileManager.default.removeItem(atPath: log) }
        let piped = try await ChildProcess.startPiped(
            try Self.flockctl, ["host", "serve", "--state", root], stderr: log)
        let lines = [
            "garbage", #"{"id":1,"op":"frob"}"#, #"{"id":2,"op":"destroy"}"#,
            #"{"id":3,"op":"destroy","name":"web-parent"}"#,
            #"{"id":4,"op":"snapshot-has","snapshot":"../../etc"}"#, #"{"id":5,"op":"list"}"#,
            #"{"id":6,"op":"clone","snapshot":"nope","pool":"p","names":["flock-p-a"],"network":{"mode":"user"}}"#,
        ]
        let input = Data((lines.joined(separator: "\n") + "\n").utf8)
        _ = input.withUnsafeBytes { write(piped.input, $0.baseAddress, $0.count) }
        close(piped.input)
        #expect(await piped.process.waitForExit(timeout: .seconds(30)) == 0)
        var output = Data()
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(piped.output, $0.baseAddress, $0.count) }
            guard count > 0 else { break }
            output.append(contentsOf: buffer[..<count])
        }
        close(piped.output)
        let answers = String(decoding: output, as: UTF8.self).split(separator: "\n").compactMap {
            (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any]
        }
        #expect(answers.count == lines.count, "\(answers)")
        func answer(_ id: Int) -> [String: Any]? { answers.first { ($0["id"] as? Int) == id } }
        #expect(answers.contains { $0["id"] == nil && ($0["error"] as? String)?.contains("not a request") == true })
        #expect((answer(1)?["error"] as? String)?.contains("unknown op 'frob'") == true)
        #expect((answer(2)?["error"] as? String) == "destroy needs 'name'")
        #expect((answer(3)?["error"] as? String)?.contains("Flock only destroys VMs it named") == true)
        #expect(answer(4)?["held"] as? Bool == false)
        #expect(answer(5)?["ok"] as? Bool == true)
        #expect((answer(6)?["error"] as? String)?.contains("does not hold snapshot nope") == true)
        let stderr = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        #expect(!stderr.contains("Fatal error"), "\(stderr)")
    }
}
