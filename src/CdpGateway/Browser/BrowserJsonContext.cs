using System.Text.Json.Serialization;

namespace CdpGateway.Browser;

[JsonSerializable(typeof(string))]
internal sealed partial class BrowserJsonContext : JsonSerializerContext;
