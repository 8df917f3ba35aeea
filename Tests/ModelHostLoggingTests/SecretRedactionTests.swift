import Logging
import Testing

@testable import ModelHostLogging

@Suite struct SecretRedactionTests {
    @Test(arguments: ["authorization", "Authorization", "X-API-KEY", "x-api-key", "api_key", "APIKEY", "user-password", "X-Auth-Token", "client_secret", "Cookie"])
    func namesThatLookSecretAreSecret(_ name: String) {
        #expect(SecretRedaction.isSecret(name))
    }

    @Test(arguments: ["model", "request_id", "key_id", "content-type", "version", "status"])
    func otherNamesAreNot(_ name: String) {
        #expect(!SecretRedaction.isSecret(name))
    }

    @Test func metadataIsRedactedAtEveryDepth() {
        let redacted = SecretRedaction.redact([
            "token": "t1",
            "outer": ["password": "p1", "fine": "ok", "list": [["secret": "s1"]]],
        ])
        #expect(redacted["token"] == .string(SecretRedaction.placeholder))
        guard case .dictionary(let outer)? = redacted["outer"] else {
            Issue.record("outer is not a dictionary")
            return
        }
        #expect(outer["password"] == .string(SecretRedaction.placeholder))
        #expect(outer["fine"] == "ok")
        #expect("\(redacted)".contains("s1") == false)
    }

    @Test func headersAreRedactedByName() {
        let headers = SecretRedaction.redactHeaders([("Authorization", "Bearer x"), ("Accept", "json")])
        #expect(headers.map(\.value) == [SecretRedaction.placeholder, "json"])
    }
}
