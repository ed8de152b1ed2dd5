using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using NATS.NKeys;

namespace CdpGateway.Tests.Telemetry.Nats;

/// <summary>
/// Decentralised NATS auth for tests, as an operator's tooling sets it up: an operator, an account it signs (with
/// JetStream allowed), the system account, and a user the account signs, each a JWT signed with the issuer's NKey, and
/// the server configuration that trusts the operator and knows the accounts.
/// </summary>
internal sealed class NatsOperatorJwts : IDisposable
{
    private readonly KeyPair _operator = KeyPair.CreatePair(PrefixByte.Operator);
    private readonly KeyPair _account = KeyPair.CreatePair(PrefixByte.Account);

    // JetStream will not start in operator mode without a system account for its internal subscriptions.
    private readonly KeyPair _system = KeyPair.CreatePair(PrefixByte.Account);

    /// <summary>The server's configuration: trust this operator, resolve this account from memory.</summary>
    public string ServerConfig()
    {
        string operatorJwt = Sign(_operator, _operator.GetPublicKey(), "test-operator", new JsonObject { ["type"] = "operator", ["version"] = 2 });
        string accountJwt = Sign(_operator, _account.GetPublicKey(), "test-account", new JsonObject
        {
            ["limits"] = Unlimited("subs", "data", "payload", "imports", "exports", "conn", "leaf", "mem_storage", "disk_storage", "streams", "consumer"),
            ["type"] = "account",
            ["version"] = 2,
        });
        string systemJwt = Sign(_operator, _system.GetPublicKey(), "SYS", new JsonObject { ["type"] = "account", ["version"] = 2 });
        return "operator: \"" + operatorJwt + "\"\nsystem_account: " + _system.GetPublicKey() + "\nresolver: MEMORY\nresolver_preload: {\n  "
            + _account.GetPublicKey() + ": \"" + accountJwt + "\"\n  " + _system.GetPublicKey() + ": \"" + systemJwt + "\"\n}\n";
    }

    /// <summary>A user JWT the account signed for <paramref name="user"/>, allowed everything.</summary>
    public string UserJwt(KeyPair user) => Sign(_account, user.GetPublicKey(), "test-user", new JsonObject
    {
        ["pub"] = new JsonObject(),
        ["sub"] = new JsonObject(),
        ["subs"] = -1,
        ["data"] = -1,
        ["payload"] = -1,
        ["type"] = "user",
        ["version"] = 2,
    });

    /// <summary>A creds file for <paramref name="user"/> with the JWT this account signed.</summary>
    public string WriteCreds(string directory, KeyPair user)
    {
        Directory.CreateDirectory(directory);
        var path = Path.Combine(directory, "operator-user-" + Guid.NewGuid().ToString("N") + ".creds");
        File.WriteAllText(path, CredsFiles.Text(UserJwt(user), user.GetSeed()));
        return path;
    }

    /// <summary>Account limits with every one of <paramref name="names"/> unlimited (-1); JetStream needs its storage limits set.</summary>
    private static JsonObject Unlimited(params string[] names)
    {
        var limits = new JsonObject { ["wildcards"] = true };
        foreach (var name in names)
        {
            limits[name] = -1;
        }
        return limits;
    }

    private static string Sign(KeyPair issuer, string subject, string name, JsonObject nats)
    {
        var claims = new JsonObject
        {
            ["jti"] = Convert.ToHexString(RandomNumberGenerator.GetBytes(16)),
            ["iat"] = DateTimeOffset.UtcNow.ToUnixTimeSeconds(),
            ["iss"] = issuer.GetPublicKey(),
            ["name"] = name,
            ["sub"] = subject,
            ["nats"] = nats,
        };
        string signedPart = CredsFiles.Part(CredsFiles.JwtHeader) + "." + CredsFiles.Part(claims.ToJsonString());
        var signature = new byte[64];
        issuer.Sign(Encoding.ASCII.GetBytes(signedPart), signature);
        return signedPart + "." + Base64Url.EncodeToString(signature);
    }

    public void Dispose()
    {
        _operator.Dispose();
        _account.Dispose();
        _system.Dispose();
    }
}
