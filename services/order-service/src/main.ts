import { runMain, startService } from '@flash/runtime';
import { readConfig, SERVICE_NAME } from './config';
import { orderService } from './service';

runMain(SERVICE_NAME, async () => {
  const config = readConfig();
  return startService(orderService(config), config);
});
