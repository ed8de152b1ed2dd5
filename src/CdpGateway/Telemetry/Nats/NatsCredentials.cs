using System.Buffers.Text;
using System.Text;
using System.Text.Json;
using NATS.Client.Core;
using NATS.NKeys;

namespace CdpGateway.Telemetry.Nats;

/// <summary>
/// The credentials part of the NATS CONNECT: <c>--nats-token</c>, <c>--nats-user</c>/<c>--nats-password</c>, a
/// <c>--nats-creds</c> file (its user JWT and public NKey, and the server's nonce signed with its NKey seed: a server
/// with operator JWTs checks the JWT, one with NKey users the public key), or what the URL itself
/// carries (<c>nats://token@host</c>, <c>nats://user:password@host</c>) when no option gives any.
/// </summary>
public static class NatsCredentials
{
    public static void Write(Utf8JsonWriter writer, NatsSinkOptions options, Uri target, string? nonce)
    {
        if (options.CredsFile is { Length: > 0 } creds)
        {
            var (jwt, seed) = ReadCredsFile(creds);
            writer.WriteString("jwt", jwt);
            using var pair = KeyPair.FromSeed(seed);
            writer.WriteString("nkey", pair.GetPublicKey());
            if (nonce is not null)
            {
                var signature = new byte[64];
                pair.Sign(Encoding.UTF8.GetBytes(nonce), signature);
                writer.WriteString("sig", Base64Url.EncodeToString(signature));
            }
        }
        if (options.Token is { Length: > 0 } token)
        {
            writer.WriteString("auth_token", token);
        }
        if (options.User is { Length: > 0 } user)
        {
            writer.WriteString("user", user);
            writer.WriteString("pass", options.Password ?? "");
        }
        if (options.Token is not { Length: > 0 } && options.User is not { Length: > 0 } && options.CredsFile is not { Length: > 0 }
            && target.UserInfo is { Length: > 0 } info)
        {
            int colon = info.IndexOf(':', StringComparison.Ordinal);
            if (colon < 0)
            {
                writer.WriteString("auth_token", Uri.UnescapeDataString(info));
            }
            else
            {
                writer.WriteString("user", Uri.UnescapeDataString(info[..colon]));
                writer.WriteString("pass", Uri.UnescapeDataString(info[(colon + 1)..]));
            }
        }
    }

    /// <summary>The user JWT and NKey seed of a <c>.creds</c> file (each the first line after its BEGIN marker).</summary>
    public static (string Jwt, string Seed) ReadCredsFile(string path)
    {
        var lines = File.ReadAllLines(path);
        string? jwt = After(lines, "BEGIN NATS USER JWT");
        string? seed = After(lines, "BEGIN USER NKEY SEED");
        if (jwt is null || seed is null)
        {
            throw new NatsException("The NATS credentials file holds no user JWT and NKey seed");
        }
        return (jwt, seed);
    }

    private static string? After(string[] lines, string marker)
    {
        for (int i = 0; i < lines.Length; i++)
        {
            if (lines[i].Contains(marker, StringComparison.Ordinal))
            {
                return lines.Skip(i + 1).Select(l => l.Trim()).FirstOrDefault(l => l.Length > 0 && !l.StartsWith("---", StringComparison.Ordinal));
            }
        }
        return null;
    }
}
