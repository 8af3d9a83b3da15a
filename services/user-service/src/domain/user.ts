export type Role = 'customer' | 'admin';

export interface PersonalData {
  name: string;
  email: string;
  phone?: string;
  address?: string;
  description?: string;
}

export interface User {
  id: string;
  emailIndex: string;
  /** PersonalData, sealed by PersonalDataVault. */
  personalData: string;
  passwordHash: string;
  role: Role;
  verifiedAt: Date | null;
  createdAt: Date;
}
