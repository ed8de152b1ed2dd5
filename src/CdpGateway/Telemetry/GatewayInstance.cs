using System.Security.Cryptography;

namespace CdpGateway.Telemetry;

/// <summary>
/// Who publishes: the instance id (<c>--instance-id</c>, one per gateway in a fleet) and the boot id (one per process
/// start). Every envelope's <c>source</c> carries both, because seq starts again at 1 when a gateway restarts: instance,
/// boot and seq together name one event across a fleet and across restarts.
/// </summary>
public sealed class GatewayInstance
{
    /// <summary>Longest instance id: it is one token of a NATS subject and a label value, so it stays short.</summary>
    public const int MaxIdLength = 64;

    public GatewayInstance(string id, string bootId)
    {
        Id = IsValidId(id) ? id : throw new ArgumentException($"'{id}' is not an instance id ({IdRule})", nameof(id));
        ArgumentException.ThrowIfNullOrEmpty(bootId);
        BootId = bootId;
    }

    /// <summary>What an instance id may hold, for error messages.</summary>
    public const string IdRule = "1 to 64 of A-Z, a-z, 0-9, '-' and '_'";

    public string Id { get; }

    /// <summary>Random, fixed for the life of the process: 12 hex digits.</summary>
    public string BootId { get; }

    /// <summary>The given id, or the host name and the CDP port (<c>host-9222</c>) when none is given; a new boot id.</summary>
    public static GatewayInstance Create(string? id, int cdpPort) => new(id ?? DefaultId(Environment.MachineName, cdpPort), NewBootId());

    /// <summary>
    /// Letters, digits, '-' and '_' only: the id is a NATS subject token (no '.', '*', '&gt;' or space), a Prometheus label
    /// value and part of a message id, and needs no escaping in any of them.
    /// </summary>
    public static bool IsValidId(string? id) =>
        id is { Length: > 0 and <= MaxIdLength } && id.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_');

    /// <summary>The host name with anything an id may not hold turned into '-', then '-' and the port.</summary>
    internal static string DefaultId(string hostName, int cdpPort)
    {
        var suffix = "-" + cdpPort.ToString(System.Globalization.CultureInfo.InvariantCulture);
        var host = new string([.. hostName.Select(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' ? c : '-')]);
        host = host.Length == 0 ? "gateway" : host[..Math.Min(host.Length, MaxIdLength - suffix.Length)];
        return host + suffix;
    }

    private static string NewBootId() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6));
}
