using System.Text.Json.Serialization;
using CdpGateway.Browser;

namespace CdpGateway.Api;

[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(HealthStatus))]
[JsonSerializable(typeof(ChromiumStatus))]
[JsonSerializable(typeof(FlagsAnswer))]
[JsonSerializable(typeof(RestartAnswer))]
[JsonSerializable(typeof(ApiError))]
[JsonSerializable(typeof(ConnectionInfo))]
[JsonSerializable(typeof(ConnectionList))]
[JsonSerializable(typeof(ConnectionClosed))]
internal sealed partial class ApiJsonContext : JsonSerializerContext;
