using Microsoft.Extensions.Logging.Console;

namespace CdpGateway.Hosting;

/// <summary>What <see cref="JsonLineFormatter"/> adds to every line.</summary>
public sealed class JsonLineFormatterOptions : ConsoleFormatterOptions
{
    /// <summary>The gateway's instance id (<c>--instance-id</c>), written as <c>instance</c> on every line.</summary>
    public string Instance { get; set; } = "";
}
