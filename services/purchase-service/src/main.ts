import { runMain, startService } from '@flash/runtime';
import { readConfig, SERVICE_NAME } from './config';
import { purchaseService } from './service';

runMain(SERVICE_NAME, async () => startService(purchaseService(), readConfig()));
