using System.Text.Json.Serialization;

namespace CdpGateway.Telemetry;

[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(CdpConnectData))]
[JsonSerializable(typeof(CdpDisconnectData))]
[JsonSerializable(typeof(TelemetryStatus))]
[JsonSerializable(typeof(TelemetryError))]
[JsonSerializable(typeof(MissedEventsData))]
[JsonSerializable(typeof(ChromiumStartedData))]
[JsonSerializable(typeof(ChromiumReadyData))]
[JsonSerializable(typeof(ChromiumExitedData))]
[JsonSerializable(typeof(ChromiumUnreachableData))]
[JsonSerializable(typeof(ChromiumReachableData))]
[JsonSerializable(typeof(Commands.CdpCommandData))]
public sealed partial class TelemetryJsonContext : JsonSerializerContext;
