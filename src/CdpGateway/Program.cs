using CdpGateway.Hosting;

var parsed = CommandLine.Read(args);
if (parsed.Action is not null && parsed.Errors.Count == 0)
{
    // --help or --version: printed instead of starting.
    return parsed.Invoke();
}

GatewayApp created;
try
{
    // Parsing checks each value, creating checks what the gateway reads later: both refuse the same way.
    created = GatewayApp.Create(CommandLine.Bind(parsed));
}
catch (PlatformRefusalException ex)
{
    // Not a bad option: the platform, named with what to do instead. The usage would only bury it.
    Console.Error.WriteLine("cdp-gateway: " + ex.Message);
    return 2;
}
catch (OptionException ex)
{
    Console.Error.WriteLine("cdp-gateway: " + ex.Message);
    Console.Error.WriteLine();
    Console.Error.Write(CommandLine.Usage());
    return 2;
}
await using var gateway = created;
try
{
    await gateway.StartAsync();
}
catch (Exception ex)
{
    Console.Error.WriteLine("cdp-gateway: " + ex.Message);
    await gateway.StopAsync();
    return 1;
}
await gateway.WaitForShutdownAsync();
await gateway.StopAsync();
return 0;
