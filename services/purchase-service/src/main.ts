import { runMain, startService } from '@flash/runtime';
import { readConfig, SERVICE_NAME } from './config';
import { purchaseService } from './service';

runMain(SERVICE_NAME, async () => {
  const config = readConfig();
  return startService(purchaseService(config), config);
});
